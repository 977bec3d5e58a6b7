"""The HTTP front door: Slack's request URL, a health check, and a clean shutdown."""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app import Services, build_bolt

logger = logging.getLogger(__name__)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
BOLT: web.AppKey[AsyncApp] = web.AppKey("bolt", AsyncApp)
READY: web.AppKey[dict[str, bool]] = web.AppKey("ready", dict)


def build_web_app(services: Services, *, run_workers: bool = True) -> web.Application:
    """An aiohttp app serving `POST /slack/events` and `GET /healthz`."""
    app = web.Application(client_max_size=5 * 1024 * 1024)
    app[SERVICES] = services
    app[BOLT] = build_bolt(services)
    app[READY] = {"ready": False}
    app.router.add_post("/slack/events", _slack_events)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)

    async def lifecycle(app: web.Application) -> object:
        await services.queue.ensure_group()
        if run_workers:
            await services.workers.start()
        app[READY]["ready"] = True
        logger.info("ready: listening for Slack on /slack/events")
        yield
        # Stop taking events first (not ready), then finish what is in flight.
        app[READY]["ready"] = False
        if run_workers:
            await services.workers.stop(services.settings.shutdown_grace_seconds)
        await services.close()

    app.cleanup_ctx.append(lifecycle)  # type: ignore[arg-type]
    return app


def build_health_app(services: Services) -> web.Application:
    """`GET /healthz` and `GET /metrics` alone, for Socket Mode (ready once it says so)."""
    app = web.Application()
    app[SERVICES] = services
    app[READY] = {"ready": False}
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    return app


async def _slack_events(request: web.Request) -> web.Response:
    if not request.app[READY]["ready"]:
        # Shutting down: Slack retries elsewhere or later.
        return web.Response(status=503, text="shutting down")
    bolt_response = await request.app[BOLT].async_dispatch(await to_bolt_request(request))
    return await to_aiohttp_response(bolt_response)


async def _healthz(request: web.Request) -> web.Response:
    if not request.app[READY]["ready"]:
        return web.json_response({"ok": False, "status": "starting"}, status=503)
    try:
        await request.app[SERVICES].redis.ping()
    except Exception:
        logger.warning("health check: Redis is not answering", exc_info=True)
        return web.json_response({"ok": False, "status": "redis unavailable"}, status=503)
    return web.json_response({"ok": True, "in_flight": request.app[SERVICES].workers.in_flight})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
