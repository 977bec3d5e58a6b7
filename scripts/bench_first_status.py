"""Benchmark the first sign of life: from a mention's delivery to the thread's first status.

Runs a real bot process (tests/harness.py) against the loopback fakes and the real Redis,
delivers signed mentions with a screenshot, and measures, on one monotonic clock, the time
from the start of the delivery's HTTP request to the arrival of the first
assistant.threads.setStatus call at the fake (and to Slack's ack, for context).

Run from the repo root (needs Redis on 127.0.0.1:6379; uses and flushes db 14, or
BENCH_REDIS_URL):

    .venv/bin/python scripts/bench_first_status.py [--runs N] [--compare GIT-REF]

With --compare, the same measurement runs on GIT-REF's code too (exported with git archive
into a temporary directory), in alternating rounds, so a noisy machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_media import _machine  # noqa: E402  (scripts/ is sys.path[0])

from tests import samples  # noqa: E402  (the tree under test: this checkout or an export)
from tests.fakes import FakeClaude, FakeSlack  # noqa: E402
from tests.harness import CHANNEL, TEAM, USER, Harness, make_settings, next_ts  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WARM_UP = 3  # runs not counted: connections and imports warm up
ROUNDS = 3


async def measure(runs: int) -> dict[str, list[float]]:
    """Seconds from delivery to first status and to the ack, per mention, in this tree."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    first_status: list[float] = []
    acks: list[float] = []
    try:
        async with (
            FakeSlack("xoxb-bench-token", team_id=TEAM) as slack,
            FakeClaude() as claude,
            aiohttp.ClientSession() as http,
        ):
            settings = make_settings(slack, claude, REDIS_URL, log_level="WARNING")
            from tests.harness import start_bot

            harness = Harness(slack, claude, settings, http, [await start_bot(settings)])
            try:
                for n in range(WARM_UP + runs):
                    shot = slack.add_file(f"F{n}", "checkout-500.png", samples.png())
                    ts = next_ts()
                    event = {
                        "type": "app_mention",
                        "user": USER,
                        "text": f"<@{slack.bot_user_id}> why does checkout fail?",
                        "ts": ts,
                        "channel": CHANNEL,
                        "team": TEAM,
                        "files": [shot],
                    }
                    start = time.monotonic()
                    await harness.deliver(event)
                    acked = time.monotonic()
                    # The copy Slack sends as a message event, as in production.
                    message = {**event, "type": "message", "channel_type": "channel"}
                    await harness.deliver({**message, "subtype": "file_share"})
                    await harness.settle(timeout=60)
                    calls = slack.calls_to("assistant.threads.setStatus")
                    status = min(c.at for c in calls if c.args.get("thread_ts") == ts)
                    if n >= WARM_UP:
                        first_status.append(status - start)
                        acks.append(acked - start)
            finally:
                await harness.bot.stop()
    finally:
        await redis.flushdb()
        await redis.aclose()
    return {"first_status": first_status, "ack": acks}


def export(ref: str, into: Path) -> Path:
    """GIT-REF's tree in a directory, with this script in it."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        check=True,
        capture_output=True,
    ).stdout
    tree = into / "tree"
    tree.mkdir()
    with tempfile.TemporaryFile() as tar_file:
        tar_file.write(archive)
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(tree, filter="data")
    shutil.copy(Path(__file__), tree / "scripts" / Path(__file__).name)
    return tree


def run_child(tree: Path, runs: int) -> dict[str, list[float]]:
    """Measure in `tree` (its bot and fakes) in a fresh interpreter."""
    script = tree / "scripts" / Path(__file__).name
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, str(script), "--child", "--runs", str(runs)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, list[float]] = json.loads(out.strip().splitlines()[-1])
    return result


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return (
        f"{statistics.median(values) * 1e3:.1f} ms "
        f"(p90 {p90 * 1e3:.1f}, max {max(values) * 1e3:.1f})"
    )


def report(results: dict[str, dict[str, list[float]]]) -> None:
    n = len(next(iter(results.values()))["first_status"])
    print(f"Date: {date.today()}  ")
    print(f"Machine: {_machine()}; Python {platform.python_version()}  ")
    print(f"\n{n} mentions with a screenshot per tree, after {WARM_UP} warm-up runs each\n")
    print("| Code | Delivery → first setStatus at Slack | Delivery → ack |")
    print("| --- | ---: | ---: |")
    for name, values in results.items():
        print(f"| {name} | {_ms(values['first_status'])} | {_ms(values['ack'])} |")
    if len(results) == 2:
        (a, b) = (statistics.median(v["first_status"]) for v in results.values())
        names = list(results)
        print(f"\nMedian first status, {names[0]} / {names[1]}: {a / b:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30, help="measured mentions per tree")
    parser.add_argument("--compare", metavar="GIT-REF", help="also measure this commit's code")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.runs))))
        return
    if not args.compare:
        report({"this checkout": asyncio.run(measure(args.runs))})
        return
    per_round = max(1, args.runs // ROUNDS)
    results: dict[str, dict[str, list[float]]] = {
        "this checkout": {"first_status": [], "ack": []},
        args.compare: {"first_status": [], "ack": []},
    }
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this checkout": ROOT, args.compare: export(args.compare, Path(tmp))}
        order = list(trees.items())
        for n in range(ROUNDS):  # alternate, so drift on a noisy machine hits both alike
            for name, tree in order if n % 2 == 0 else order[::-1]:
                measured = run_child(tree, per_round)
                for key, values in measured.items():
                    results[name][key] += values
    report(results)


if __name__ == "__main__":
    main()
