"""Benchmark Slack's ack: the same burst of signed deliveries to a no-op Bolt app and to the bot.

Each round fires one burst at once: N mentions with a screenshot, each delivered twice as
Slack does (an `app_mention` and the matching `message` event, subtype `file_share`), so
2N signed HTTP requests. It times each request from its start to the ack, at the client.

The two servers run side by side, each in a process of its own, on the same server stack
(aiohttp, `slack_bolt.adapter.aiohttp`, the bot's access log at INFO):

- a no-op `AsyncApp`: the same signing secret, `process_before_response` like the bot's,
  listeners for `app_mention` and `message` that do nothing;
- `vision-bot serve` with default settings against the loopback fakes (FakeSlack and
  FakeClaude, in a third process) and a real Redis server of its own, so its workers answer
  the burst (and nobody else's: two bots on one Redis would share the work) while
  later deliveries are still being acked, as in production.

Rounds alternate which server goes first; between rounds the bot finishes every answer.
One warm-up round each is not counted. Reported: the median over rounds of each round's
ack p50 and p99, and the bot's p99 over Bolt's.

Run from the repo root (needs `redis-server` installed: each bot gets one of its own, on a
free port, without persistence):

    .venv/bin/python scripts/bench_ack.py [--mentions 60] [--rounds 7] [--compare GIT-REF]

With --compare, a bot built from GIT-REF's code (exported with git archive) is measured in
the same rounds too. With --loop-debug MS, the bots run in asyncio's debug mode with
`loop.slow_callback_duration` at MS milliseconds, and the callbacks that held their event
loop that long are listed after the table (debug mode slows everything: a diagnosis, not a
measurement).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_first_status import export  # noqa: E402  (scripts/ is sys.path[0])
from bench_media import _machine  # noqa: E402

from tests import samples  # noqa: E402
from tests.fakes import FakeClaude, FakeSlack  # noqa: E402
from tests.harness import CHANNEL, SIGNING_SECRET, TEAM, USER, envelope, next_ts  # noqa: E402
from tests.processes import bot_env, wait_healthy  # noqa: E402
from tests.redis_topologies import free_port, standalone  # noqa: E402
from tests.slack_signing import signed_headers  # noqa: E402

BOT_TOKEN = "xoxb-bench-token"
SETTLE_SECONDS = 120
STREAM = "vb:turns"  # bot/store/keys.py STREAM: the older tree's bot may not be importable


# ---- the child processes -------------------------------------------------------------------


def serve_fakes(files: int) -> None:
    """FakeSlack (with `files` screenshots hosted) and FakeClaude, until stdin closes."""

    async def main() -> None:
        async with FakeSlack(BOT_TOKEN, team_id=TEAM) as slack, FakeClaude() as claude:
            hosted = [
                slack.add_file(f"F{n:04d}", f"shot-{n}.png", samples.png(size=(1280, 800)))
                for n in range(files)
            ]
            info = {
                "api_url": slack.api_url,
                "file_host": slack.file_hostname("primary"),
                "bot_user_id": slack.bot_user_id,
                "claude_url": claude.base_url,
                "claude_key": claude.api_key,
                "files": hosted,
            }
            print(json.dumps(info), flush=True)
            # Keep the fakes' call logs from growing without bound over many rounds.
            loop = asyncio.get_running_loop()
            done = loop.run_in_executor(None, sys.stdin.read)
            while not done.done():
                slack.calls.clear()
                slack.file_requests.clear()
                claude.requests.clear()
                claude.request_headers.clear()
                claude.responses.clear()
                await asyncio.sleep(1)

    asyncio.run(main())


def serve_noop(port: int, api_url: str) -> None:
    """A Bolt app whose listeners do nothing, served the way bot/server.py serves the bot."""
    import logging

    from aiohttp import web
    from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.server import AccessLogger

    logging.basicConfig(
        level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("slack_bolt").setLevel(logging.WARNING)

    async def make_app() -> web.Application:
        bolt = AsyncApp(
            client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url),
            signing_secret=SIGNING_SECRET,
            process_before_response=True,
        )

        @bolt.event("app_mention")
        async def on_mention() -> None:
            return None

        @bolt.event("message")
        async def on_message() -> None:
            return None

        async def events(request: web.Request) -> web.Response:
            response = await bolt.async_dispatch(await to_bolt_request(request))
            return await to_aiohttp_response(response)

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"ok": True, "in_flight": 0})

        app = web.Application(client_max_size=5 * 1024 * 1024)
        app.router.add_post("/slack/events", events)
        app.router.add_get("/healthz", healthz)
        return app

    web.run_app(make_app(), port=port, print=None, access_log_class=AccessLogger)


def serve_bot_debugging(slow_ms: float, argv: list[str]) -> int:
    """`vision-bot ARGV...` with asyncio's debug mode logging callbacks over `slow_ms`."""
    from bot.cli import main as bot_main

    class Policy(asyncio.DefaultEventLoopPolicy):
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = super().new_event_loop()
            loop.set_debug(True)
            loop.slow_callback_duration = slow_ms / 1000
            return loop

    asyncio.set_event_loop_policy(Policy())
    return bot_main(argv)


def slow_callbacks(log: Path, top: int = 12) -> list[str]:
    """The slowest callbacks asyncio's debug mode logged, slowest first."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if "Executing " in line and " took " in line:
            what, _, took = line.partition("Executing ")[2].rpartition(" took ")
            found.append((float(took.split()[0]), line[11:23], what[:150]))
    found.sort(reverse=True)
    return [f"{seconds * 1e3:.0f} ms at {at}: {what}" for seconds, at, what in found[:top]] + [
        f"({len(found)} callbacks over the threshold in all)"
    ]


# ---- the burst -------------------------------------------------------------------------------


def deliveries(info: dict[str, Any], mentions: int) -> list[str]:
    """Bodies of a burst: each mention as app_mention, then as message (file_share)."""
    bodies: list[str] = []
    for n in range(mentions):
        base = {
            "user": f"{USER}{n:03d}",  # 60 people: one person's rate limit would refuse most
            "text": f"<@{info['bot_user_id']}> why does checkout fail? ({n})",
            "ts": next_ts(),
            "channel": CHANNEL,
            "team": TEAM,
            "files": [info["files"][n % len(info["files"])]],
        }
        copies = [
            {"type": "app_mention", **base},
            {"type": "message", "subtype": "file_share", "channel_type": "channel", **base},
        ]
        for event in copies:
            event_id = f"Ev{time.time_ns()}{len(bodies)}"
            payload = envelope(event, event_id=event_id, bot_user_id=info["bot_user_id"])
            bodies.append(json.dumps(payload))
    return bodies


async def burst(http: aiohttp.ClientSession, url: str, bodies: list[str]) -> list[float]:
    """Post every body at once; seconds from each request's start to its ack."""

    async def one(body: str) -> float:
        headers = {"Content-Type": "application/json", **signed_headers(SIGNING_SECRET, body)}
        start = time.monotonic()
        async with http.post(f"{url}/slack/events", data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        return time.monotonic() - start

    return list(await asyncio.gather(*(one(body) for body in bodies)))


async def settle(http: aiohttp.ClientSession, url: str, redis: Redis | None) -> None:
    """Wait until the server has answered every queued turn (the no-op app has none)."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline:
        async with http.get(f"{url}/healthz") as response:
            busy = (await response.json()).get("in_flight", 0)
        if busy == 0 and (redis is None or await redis.xlen(STREAM) == 0):
            await asyncio.sleep(0.2)  # the last answer's bookkeeping
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} still answering after {SETTLE_SECONDS}s")


# ---- running it ------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def child(
    args: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process logging to `log`, killed on exit."""
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *args,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def measure(
    mentions: int,
    rounds: int,
    compare: str | None,
    loop_debug: float | None = None,
    settings: dict[str, str] | None = None,
) -> dict[str, list[dict[str, float]]]:
    """Per server, each counted round's ack p50 and p99 in seconds."""
    me = ROOT / "scripts" / "bench_ack.py"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        trees = {"bot (this checkout)": ROOT}
        if compare:
            trees[f"bot ({compare})"] = export(compare, tmp)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        async with contextlib.AsyncExitStack() as stack:
            fakes = await stack.enter_async_context(
                child(
                    [sys.executable, str(me), "--fakes", str(mentions)],
                    env=env,
                    cwd=ROOT,
                    log=tmp / "fakes.log",
                )
            )
            assert fakes.stdout is not None
            info = json.loads(await fakes.stdout.readline())
            servers: dict[str, str] = {}
            redises: dict[str, Redis | None] = {"no-op Bolt app": None}
            logs: dict[str, Path] = {}
            port = free_port()
            noop_args = [sys.executable, str(me), "--noop", str(port), info["api_url"]]
            await stack.enter_async_context(
                child(noop_args, env=env, cwd=ROOT, log=tmp / "noop.log")
            )
            servers["no-op Bolt app"] = f"http://127.0.0.1:{port}"
            for name, tree in trees.items():
                (tmp / name).mkdir()
                store = await stack.enter_async_context(standalone(tmp / name))
                redises[name] = Redis.from_url(store.url)
                stack.push_async_callback(redises[name].aclose)  # type: ignore[union-attr]
                port = free_port()
                bot = bot_env(
                    SLACK_SIGNING_SECRET=SIGNING_SECRET,
                    REDIS_URL=store.url,
                    SLACK_BOT_TOKEN=BOT_TOKEN,
                    SLACK_API_URL=info["api_url"],
                    SLACK_FILE_HOSTS=info["file_host"],
                    ANTHROPIC_API_KEY=info["claude_key"],
                    ANTHROPIC_BASE_URL=info["claude_url"],
                    PYTHONPATH=str(tree),
                    **(settings or {}),
                )
                args = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
                if loop_debug:
                    args[1:3] = [str(me), "--bot-loop-debug", str(loop_debug)]
                log = tmp / f"bot{len(servers)}.log"
                logs[name] = log
                await stack.enter_async_context(child(args, env=bot, cwd=tree, log=log))
                servers[name] = f"http://127.0.0.1:{port}"
            results: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
                for url in servers.values():
                    await wait_healthy(http, url, timeout=60)
                order = list(servers.items())
                for n in range(rounds + 1):  # round 0 warms both up
                    for name, url in order if n % 2 == 0 else order[::-1]:
                        times = await burst(http, url, deliveries(info, mentions))
                        await settle(http, url, redises[name])
                        if n:
                            results[name].append(_percentiles(times))
            fakes.stdin.close()  # type: ignore[union-attr]
            for name, log in logs.items() if loop_debug else ():
                print(f"Slow callbacks in {name}:", *slow_callbacks(log), sep="\n  ")
    return results


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
    }


def report(results: dict[str, list[dict[str, float]]], mentions: int) -> None:
    rounds = len(next(iter(results.values())))
    print(f"Date: {date.today()}  ")
    print(f"Machine: {_machine()}; Python {platform.python_version()}  ")
    print(
        f"\n{mentions} mentions with a screenshot × 2 event types = {2 * mentions} deliveries "
        f"at once per round; median of {rounds} rounds (after a warm-up round)\n"
    )
    print("| Server | Ack p50 | Ack p99 | p99 / no-op Bolt's |")
    print("| --- | ---: | ---: | ---: |")
    noop = statistics.median(r["p99"] for r in results["no-op Bolt app"])
    for name, per_round in results.items():
        p50 = statistics.median(r["p50"] for r in per_round)
        p99 = statistics.median(r["p99"] for r in per_round)
        print(f"| {name} | {p50 * 1e3:.1f} ms | {p99 * 1e3:.1f} ms | {p99 / noop:.2f}× |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mentions", type=int, default=60, help="mentions per burst")
    parser.add_argument("--rounds", type=int, default=7, help="counted rounds")
    parser.add_argument("--compare", metavar="GIT-REF", help="also measure this commit's bot")
    parser.add_argument("--loop-debug", type=float, metavar="MS", help="list slow callbacks")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every bot (e.g. MAX_CONCURRENT_TURNS=64); repeatable",
    )
    parser.add_argument("--fakes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bot-loop-debug", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--noop", nargs=2, metavar=("PORT", "API_URL"), help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.bot_loop_debug:
        sys.exit(serve_bot_debugging(args.bot_loop_debug, rest))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.loop_debug and args.compare:
        parser.error("--loop-debug runs this checkout's bot: no --compare with it")
    if args.fakes is not None:
        serve_fakes(args.fakes)
        return
    if args.noop:
        serve_noop(int(args.noop[0]), args.noop[1])
        return
    settings = dict(item.split("=", 1) for item in args.set)
    results = asyncio.run(
        measure(args.mentions, args.rounds, args.compare, args.loop_debug, settings)
    )
    report(results, args.mentions)


if __name__ == "__main__":
    main()
