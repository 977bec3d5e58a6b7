"""The `vision-bot` command: run over HTTP or Socket Mode."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from bot.claude.client import ClaudeClient, claude_client
from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.templates import Templates
from bot.terminal import ask, list_templates

logger = logging.getLogger("bot")

REDIS_CHECK_SECONDS = 5.0  # a Redis that can't answer a PING in this long can't serve turns
# On SIGTERM, for Slack's requests and the socket to finish: they are acknowledged in
# milliseconds, so the shutdown grace (SHUTDOWN_GRACE_SECONDS) goes to the answers in flight.
SLACK_SHUTDOWN_SECONDS = 3.0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `vision-bot` and `python -m bot`."""
    parser = _parser()
    # `ask FILE... --template NAME QUESTION`: words may follow the option.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "ask":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        settings = load_settings()
        templates = Templates.load(settings.templates_file)
        if args.command == "templates":
            return list_templates(templates)
        settings.require_claude()
        if args.command == "ask":
            _configure_logging("WARNING")
            files, question = _files_then_question([*args.words, *extra])
            return asyncio.run(
                ask(settings, templates, files, template_name=args.template, question=question)
            )
        mode = args.command or ("socket" if settings.slack_app_token else "serve")
        settings.require_prices()  # the spend limits (`ask` from a terminal has none)
        settings.require_slack()
        if mode == "serve":
            settings.require_http()
        else:
            settings.require_socket()
        http_port = (args.port or settings.port) if mode == "serve" else args.port
        settings.require_metrics_port(http_port)
        claude = claude_client(settings)  # names missing cloud credentials or extras
        asyncio.run(_check_bot_token(settings))
        asyncio.run(_check_redis(settings))
    except ConfigError as exc:
        print(f"vision-bot: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    if mode == "serve":
        _serve(settings, templates, claude, http_port or settings.port)
    else:
        asyncio.run(_socket(settings, templates, claude, args.port))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vision-bot", description="Ask Claude about screenshots, photos and PDFs in Slack."
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="HTTP mode: Slack posts to /slack/events")
    serve.add_argument("--port", type=int, help="port to listen on (default: $PORT, else 3000)")
    socket_cmd = sub.add_parser(
        "socket", help="Socket Mode: no public URL needed (needs SLACK_APP_TOKEN)"
    )
    socket_cmd.add_argument(
        "--port", type=int, help="also serve /healthz on this port (default: none)"
    )
    ask_cmd = sub.add_parser(
        "ask",
        usage="vision-bot ask FILE... [--template NAME] [QUESTION]",
        help="answer a question about local files, as the bot would (needs ANTHROPIC_API_KEY)",
        description="Run the bot's pipeline on local files and stream the answer to stdout. "
        "The leading arguments that are files are the files; the rest is the question "
        "(default: the template's own).",
    )
    ask_cmd.add_argument("words", nargs="+", metavar="FILE... [QUESTION]")
    ask_cmd.add_argument("--template", "-t", help="template name (see `vision-bot templates`)")
    sub.add_parser("templates", help="list the loaded templates (built-ins plus TEMPLATES_FILE)")
    parser.set_defaults(port=None)
    return parser


def _files_then_question(words: list[str]) -> tuple[list[Path], str]:
    """Split `ask`'s arguments: leading existing files, then the question's words."""
    count = 0
    while count < len(words) and Path(words[count]).is_file():
        count += 1
    if count == 0:
        raise ConfigError(f"ask: {words[0]} is not a file; give at least one image or PDF")
    return [Path(w) for w in words[:count]], " ".join(words[count:])


async def _check_bot_token(settings: Settings) -> None:
    """Stop at startup on a token Slack refuses, rather than failing every event later."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=settings.bot_token, base_url=settings.slack_api_url)
    try:
        await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
            raise ConfigError(
                f"SLACK_BOT_TOKEN is invalid (Slack says {error}): copy the Bot User OAuth "
                "Token from the app's OAuth & Permissions page (reinstall the app if needed)"
            ) from None
        logger.warning("auth.test failed (%s); starting anyway", error)
    except Exception as exc:  # Slack unreachable: start, and let Bolt retry per request
        # The type and message only: some aiohttp errors' repr carries the request headers.
        reason = f"{type(exc).__name__}: {exc}"
        logger.warning("could not reach Slack to check the bot token (%s); starting anyway", reason)
    finally:
        if client.session is not None:
            await client.session.close()


async def _check_redis(settings: Settings) -> None:
    """Stop at startup on a Redis the bot can't reach, rather than failing every event later."""
    if settings.redis_url is None:
        return  # the embedded store: nothing to reach
    from bot.store.connection import connect

    where = _without_secrets(settings.redis_url)
    client = connect(settings.redis_url, max_connections=1)  # ConfigError if malformed
    try:
        await asyncio.wait_for(client.ping(), timeout=REDIS_CHECK_SECONDS)
    except Exception as exc:  # refused, unknown host, wrong password, no primary, no answer
        reason = str(exc).rstrip(".") or f"no answer in {REDIS_CHECK_SECONDS:g} s"
        raise ConfigError(
            f"REDIS_URL {where} is unreachable ({reason}): start Redis there or correct "
            "REDIS_URL (host, port, password); unset it to run on an in-process store"
        ) from None
    finally:
        await client.aclose()


def _without_secrets(url: str) -> str:
    """The URL without its user, password and query options, to name it in an error."""
    scheme, sep, rest = url.partition("://")
    # After the last @: a password may hold an unescaped / (or @).
    return f"{scheme}{sep}{rest.rpartition('@')[2].partition('?')[0]}"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # The SDKs log a line per API call at INFO: only warnings unless debugging. Even then
    # INFO at most: at DEBUG they log whole request bodies (base64 images included), and the
    # bot's own debug lines are what an operator wants.
    sdk_level = logging.INFO if level == "DEBUG" else max(logging.WARNING, _level_number(level))
    for noisy in ("anthropic", "httpx", "httpx2", "slack_sdk", "slack_bolt"):
        logging.getLogger(noisy).setLevel(sdk_level)


def _level_number(level: str) -> int:
    number = logging.getLevelName(level)
    return number if isinstance(number, int) else logging.INFO


def _spare_the_startup_heap() -> None:
    """Keep what startup built (modules, clients, templates) out of the collector's scans."""
    # A full collection walks every object: over 200,000 after the imports, about 0.1 s
    # with the event loop stopped, acks included, several times a minute under load. What
    # startup made lives as long as the process.
    gc.collect()
    gc.freeze()


def _serve(settings: Settings, templates: Templates, claude: ClaudeClient, port: int) -> None:
    from aiohttp import web

    from bot.app import build_services
    from bot.server import AccessLogger, build_web_app, serve_metrics

    async def make_app() -> web.Application:
        app = build_web_app(build_services(settings, templates=templates, claude=claude))
        if settings.metrics_port:
            serve_metrics(app, settings.metrics_port)
        _spare_the_startup_heap()
        return app

    # run_app stops accepting connections on SIGTERM, finishes Slack's requests, then runs
    # the cleanup that gives in-flight answers the shutdown grace.
    web.run_app(
        make_app(),
        port=port,
        print=None,
        shutdown_timeout=SLACK_SHUTDOWN_SECONDS,
        access_log_class=AccessLogger,
    )


async def _socket(
    settings: Settings, templates: Templates, claude: ClaudeClient, port: int | None
) -> None:
    from aiohttp import web
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.app import build_bolt, build_services
    from bot.server import READY, AccessLogger, build_health_app, start_metrics

    services = build_services(settings, templates=templates, claude=claude)
    await services.queue.ensure_group()
    await services.decoders.ready()
    await services.workers.start()
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(
        build_bolt(services, socket_mode=True), settings.slack_app_token.get_secret_value()
    )
    health = build_health_app(services)
    runner = web.AppRunner(
        health, shutdown_timeout=SLACK_SHUTDOWN_SECONDS, access_log_class=AccessLogger
    )
    if port:
        await runner.setup()
        await web.TCPSite(runner, port=port).start()
    metrics = (
        await start_metrics(services, settings.metrics_port) if settings.metrics_port else None
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    _spare_the_startup_heap()
    health[READY]["ready"] = True
    logger.info("ready: connected to Slack over Socket Mode")
    await stop.wait()
    health[READY]["ready"] = False
    try:
        async with asyncio.timeout(SLACK_SHUTDOWN_SECONDS):
            await handler.close_async()  # type: ignore[no-untyped-call]
    except TimeoutError:
        logger.warning("the Socket Mode connection did not close in %g s", SLACK_SHUTDOWN_SECONDS)
    await services.workers.stop(settings.shutdown_grace_seconds)
    if metrics is not None:
        await metrics.cleanup()
    await services.close()
    if port:
        await runner.cleanup()
