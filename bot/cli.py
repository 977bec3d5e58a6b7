"""The `vision-bot` command: run over HTTP or Socket Mode."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from bot.config import Settings, load_settings
from bot.errors import ConfigError

logger = logging.getLogger("bot")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `vision-bot` and `python -m bot`."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        mode = args.command or ("socket" if settings.slack_app_token else "serve")
        if mode == "serve":
            settings.require_http()
        else:
            settings.require_socket()
        settings.require_claude()
    except ConfigError as exc:
        print(f"vision-bot: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    if mode == "serve":
        _serve(settings, args.port or int(os.environ.get("PORT") or settings.port))
    else:
        asyncio.run(_socket(settings))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-bot", description="Ask Claude about screenshots, photos and PDFs in Slack."
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="HTTP mode: Slack posts to /slack/events")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT, else 3000)")
    sub.add_parser("socket", help="Socket Mode: no public URL needed (needs SLACK_APP_TOKEN)")
    parser.set_defaults(port=None)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _serve(settings: Settings, port: int) -> None:
    from aiohttp import web

    from bot.app import build_services
    from bot.server import build_web_app

    async def make_app() -> web.Application:
        return build_web_app(build_services(settings))

    # run_app stops accepting connections on SIGTERM, then runs the cleanup that
    # finishes in-flight answers.
    web.run_app(make_app(), port=port, print=None, shutdown_timeout=30)


async def _socket(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import build_bolt, build_services

    services = build_services(settings)
    await services.queue.ensure_group()
    await services.workers.start()
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(
        build_bolt(services, socket_mode=True), settings.slack_app_token.get_secret_value()
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    logger.info("ready: connected to Slack over Socket Mode")
    await stop.wait()
    await handler.close_async()  # type: ignore[no-untyped-call]
    await services.workers.stop()
    await services.close()
