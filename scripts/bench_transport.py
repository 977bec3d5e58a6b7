"""Benchmark the Files API against base64: bytes and time of a 10-turn thread on one screenshot.

Run from the repo root (needs Redis on 127.0.0.1:6379; uses and flushes db 13, or BENCH_REDIS_URL):

    .venv/bin/python scripts/bench_transport.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_media import Sample, _machine, make_screenshot  # scripts/ is sys.path[0]

from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, TEAM, Harness, make_settings, start_bot

Transport = Literal["files", "base64"]
TRANSPORTS: tuple[Transport, ...] = ("files", "base64")
# A database of its own: it is flushed, and no other bot may share its turn queue.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
QUESTIONS = [
    "what does this error mean?",  # turn 1: the @-mention on the screenshot
    "which service throws it?",
    "is the stack trace on the right related?",
    "what would you check first?",
    "which of the highlighted lines is the root cause?",
    "could the retry button make it worse?",
    "what does the red line 1 say exactly?",
    "summarise the channel list on the left",
    "is anything in the top bar relevant?",
    "write a one-line incident summary",
]
# FakeClaude's own reply is ~30 characters; a fixed answer of a realistic length (1,000
# characters) makes the history, which every follow-up re-sends, grow as it would.
ANSWER = ("The stack trace points at the payment service timing out on checkout. " * 15)[:1000]


class MeteredClaude(FakeClaude):
    """FakeClaude that also records the raw HTTP body size of every POST."""

    def __init__(self) -> None:
        super().__init__()
        self.message_bytes: list[int] = []  # /v1/messages: the JSON body as received
        self.upload_bytes: list[int] = []  # /v1/files: the whole multipart body

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        self.message_bytes.append(len(await request.read()))  # cached; the handler reads it too
        return await super()._messages(request)

    async def _upload(self, request: web.Request) -> web.Response:
        try:
            return await super()._upload(request)
        finally:  # Content-Length if sent, else what came over the socket
            self.upload_bytes.append(request.content_length or request.content.total_bytes)


@dataclass
class Run:
    transport: Transport
    seconds: list[float]  # per turn: event delivered → answer finished
    sent: list[int]  # per turn: bytes of request bodies to the model API
    messages: int  # /v1/messages requests
    upload_sizes: list[int]  # multipart body sizes
    downloads: int  # requests to Slack's file hosts
    problems: list[str]


async def run_thread(transport: Transport, shot: Sample) -> Run:
    """One 10-turn thread through a real bot process with fresh fakes and a flushed db."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    claude, seconds, sent = MeteredClaude(), [], []
    claude.reply = ANSWER
    try:
        async with (
            FakeSlack("xoxb-bench-token", team_id=TEAM) as slack,
            claude,
            aiohttp.ClientSession() as http,
        ):
            settings = make_settings(
                slack, claude, REDIS_URL, log_level="WARNING", claude_transport=transport
            )
            harness = Harness(slack, claude, settings, http, [await start_bot(settings)])
            try:
                file = slack.add_file("F1", shot.name, shot.data, shot.mimetype)
                thread = ""
                for turn, question in enumerate(QUESTIONS):
                    marks = len(claude.message_bytes), len(claude.upload_bytes)
                    start = time.perf_counter()
                    if turn == 0:
                        thread = (await harness.mention(question, files=[file]))["ts"]
                    else:
                        await harness.message(question, thread_ts=thread)
                    await harness.settle(timeout=120)
                    seconds.append(time.perf_counter() - start)
                    new = claude.message_bytes[marks[0] :] + claude.upload_bytes[marks[1] :]
                    sent.append(sum(new))
            finally:
                await harness.bot.stop()
    finally:
        await redis.flushdb()
        await redis.aclose()
    replies = slack.reply_texts(CHANNEL, thread)
    run = Run(transport, seconds, sent, len(claude.requests), claude.upload_bytes, 0, [])
    run.downloads = len(slack.file_requests)
    run.problems = check(run, claude, replies)
    return run


def check(run: Run, claude: FakeClaude, replies: list[str]) -> list[str]:
    """What went other than expected: one answer, request and image per turn, one download."""
    problems, kind = [], {"files": "file", "base64": "base64"}[run.transport]
    if len(replies) != len(QUESTIONS) or not all(r.startswith(ANSWER) for r in replies):
        problems.append(f"{len(replies)} replies, not {len(QUESTIONS)} answers: {replies}")
    if run.messages != len(QUESTIONS):
        problems.append(f"{run.messages} /v1/messages requests for {len(QUESTIONS)} turns")
    for n, request in enumerate(claude.requests, 1):
        sources = [(b.get("source") or {}).get("type") for b in claude.image_blocks(request)]
        if sources != [kind]:
            problems.append(f"request {n} carries image sources {sources}, not [{kind!r}]")
    if run.downloads != 1:
        problems.append(f"{run.downloads} downloads from Slack, not 1")
    if len(run.upload_sizes) != (run.transport == "files"):
        problems.append(f"{len(run.upload_sizes)} Files API uploads")
    return problems


def _bytes(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _ms(values: list[float]) -> str:
    """Median (min to max) in milliseconds."""
    a, b, c = (v * 1e3 for v in (statistics.median(values), min(values), max(values)))
    return f"{a:.0f} ms ({b:.0f} to {c:.0f})"


def report(shot: Sample, runs: dict[Transport, list[Run]]) -> None:
    n = len(runs["files"])
    print(f"Date: {date.today()}  ")
    print(f"Machine: {_machine()}; Python {platform.python_version()}  ")
    print(f"Input: {shot.name} ({_bytes(len(shot.data))}), {len(QUESTIONS)} turns, {n} runs\n")
    print(
        "| Transport | Total to model API | Turn 1 | Follow-up (avg of 9) | Uploads | "
        f"Slack downloads | 10 turns, median (min to max) of {n} | Turn 1 time | "
        "Follow-up time (avg) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    totals: dict[Transport, int] = {}
    for transport, results in runs.items():
        first = results[0]
        totals[transport] = sum(first.sent)
        uploads = ", ".join(_bytes(s) for s in first.upload_sizes)
        walls = [sum(r.seconds) for r in results]
        turn1 = statistics.median(r.seconds[0] for r in results)
        follow = statistics.median(statistics.mean(r.seconds[1:]) for r in results)
        print(
            f"| {transport} | {_bytes(totals[transport])} ({totals[transport]:,} B) "
            f"| {_bytes(first.sent[0])} | {_bytes(statistics.mean(first.sent[1:]))} "
            f"| {len(first.upload_sizes)}{f' ({uploads})' if uploads else ''} "
            f"| {first.downloads} | {_ms(walls)} | {turn1 * 1e3:.0f} ms | {follow * 1e3:.0f} ms |"
        )
    print(f"\nTotal bytes, base64 / files: {totals['base64'] / totals['files']:.1f}×")
    for transport, results in runs.items():
        if len({tuple(r.sent) for r in results}) > 1:
            spread = sorted(sum(r.sent) for r in results)
            print(f"\nNote: {transport}: totals varied across runs: {spread}")
        for i, run in enumerate(results, 1):
            print("".join(f"\nProblem: {transport}, run {i}: {p}" for p in run.problems), end="")
    print()


async def bench(shot: Sample, repeats: int) -> dict[Transport, list[Run]]:
    runs: dict[Transport, list[Run]] = {t: [] for t in TRANSPORTS}
    for _ in range(repeats):  # alternate, so drift on a noisy machine hits both alike
        for transport in TRANSPORTS:
            runs[transport].append(await run_thread(transport, shot))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="10-turn threads per transport")
    args = parser.parse_args()
    shot = make_screenshot()
    report(shot, asyncio.run(bench(shot, max(1, args.runs))))


if __name__ == "__main__":
    main()
