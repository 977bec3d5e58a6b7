"""The HTTP front door: Slack's request URL, a health check, and a clean shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.web_log import AccessLogger as AiohttpAccessLogger
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.app import Services, build_bolt

logger = logging.getLogger(__name__)

HEALTH_PING_SECONDS = 2.0

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)
BOLT: web.AppKey[AsyncApp] = web.AppKey("bolt", AsyncApp)
READY: web.AppKey[dict[str, bool]] = web.AppKey("ready", dict)
REDIS_DOWN: web.AppKey[dict[str, bool]] = web.AppKey("redis_down", dict)
METRICS: web.AppKey[web.AppRunner] = web.AppKey("metrics", web.AppRunner)

# Probed every few seconds and scraped by Prometheus: an access line each would bury the
# lines that matter (Slack's deliveries, with their status: a 401 is a wrong signing secret).
UNLOGGED_PATHS = frozenset({"/healthz", "/metrics"})


class AccessLogger(AiohttpAccessLogger):
    """aiohttp's access log, without the health probes and metrics scrapes."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Log the request unless it is a probe or a scrape."""
        if request.path in UNLOGGED_PATHS:
            return
        super().log(request, response, time)


def build_web_app(services: Services, *, run_workers: bool = True) -> web.Application:
    """An aiohttp app serving `POST /slack/events` and `GET /healthz` (nothing else)."""
    app = web.Application(client_max_size=5 * 1024 * 1024)
    app[SERVICES] = services
    app[BOLT] = build_bolt(services)
    app[READY] = {"ready": False}
    app[REDIS_DOWN] = {"down": False}
    app.router.add_post("/slack/events", _slack_events)
    app.router.add_get("/healthz", _healthz)

    async def lifecycle(app: web.Application) -> object:
        await services.queue.ensure_group()
        await services.decoders.ready()
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
    """`GET /healthz` alone, for Socket Mode (ready once it says so)."""
    app = web.Application()
    app[SERVICES] = services
    app[READY] = {"ready": False}
    app[REDIS_DOWN] = {"down": False}
    app.router.add_get("/healthz", _healthz)
    return app


def build_metrics_app(services: Services) -> web.Application:
    """`GET /metrics` alone: served on METRICS_PORT, never on the port Slack reaches."""
    app = web.Application()
    app[SERVICES] = services
    app.router.add_get("/metrics", _metrics)
    return app


async def start_metrics(services: Services, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """Serve `GET /metrics` on `port` until the runner is cleaned up; its `addresses` say where."""
    runner = web.AppRunner(build_metrics_app(services), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("metrics on port %s at /metrics", runner.addresses[0][1])
    return runner


def serve_metrics(app: web.Application, port: int, host: str = "0.0.0.0") -> None:
    """Also serve `GET /metrics` on `port` for as long as `app` runs."""

    async def metrics_server(app: web.Application) -> AsyncIterator[None]:
        runner = await start_metrics(app[SERVICES], port, host)
        app[METRICS] = runner
        yield
        await runner.cleanup()  # before the services close: cleanup_ctx unwinds in reverse

    app.cleanup_ctx.append(metrics_server)


async def _slack_events(request: web.Request) -> web.Response:
    if not request.app[READY]["ready"]:
        # Shutting down: Slack retries elsewhere or later.
        return web.Response(status=503, text="shutting down")
    with request.app[SERVICES].acks.delivery():  # turns about to start wait for this ack
        bolt_response = await request.app[BOLT].async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)


async def _healthz(request: web.Request) -> web.Response:
    if not request.app[READY]["ready"]:
        return web.json_response({"ok": False, "status": "starting"}, status=503)
    # Probes come every few seconds: an outage is logged when it starts and when it ends.
    outage = request.app[REDIS_DOWN]
    try:
        # Inside the probe's own timeout: a hung Redis answers 503, not a probe timeout.
        await asyncio.wait_for(request.app[SERVICES].redis.ping(), HEALTH_PING_SECONDS)
    except Exception as exc:
        if not outage["down"]:
            outage["down"] = True
            # The type and message only: the traceback says nothing more about an outage.
            logger.warning(
                "health check: Redis is not answering (%s: %s); failing until it does",
                type(exc).__name__,
                exc,
            )
        return web.json_response({"ok": False, "status": "redis unavailable"}, status=503)
    if outage["down"]:
        outage["down"] = False
        logger.info("health check: Redis answers again")
    if not request.app[SERVICES].workers.alive:
        # Nothing new would be answered: let the orchestrator restart the process.
        return web.json_response({"ok": False, "status": "turn workers stopped"}, status=503)
    return web.json_response({"ok": True, "in_flight": request.app[SERVICES].workers.in_flight})


async def _metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
