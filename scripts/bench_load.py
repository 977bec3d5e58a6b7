"""Benchmark floods: many questions at once over K `vision-bot serve` replicas on one Redis.

Starts K real bot processes (`python -m bot serve`, default settings) on one real Redis,
against the loopback fakes of Slack and Claude running in this (the driver) process, and
delivers signed events to them round-robin, as a load balancer would. Times are taken on one
monotonic clock: from the start of a question's delivery to Claude's first words reaching
Slack (chat.startStream) and to the answer's end (chat.stopStream). Scenarios:

  burst   N people ask about N screenshots at once, in N threads
  flood   30 quick replies in one answered thread, then a question in another thread
  memory  40 people share a 12 MP photo each at once: peak memory of the bot processes
  soak    400 turns in a row (threads of a question and three follow-ups): memory and Redis

The fake Claude takes --claude-latency seconds per answer: its first words after a third of
it, the rest streamed evenly. Run from the repo root (needs Redis on 127.0.0.1:6379; uses and
flushes db 12, or BENCH_REDIS_URL):

    .venv/bin/python scripts/bench_load.py                          # every scenario
    .venv/bin/python scripts/bench_load.py --scenario burst --set MAX_CONCURRENT_TURNS=100
    .venv/bin/python scripts/bench_load.py --scenario burst --compare main

With --compare, the bot processes also run GIT-REF's code (exported with git archive), in
alternating rounds; the driver and its fakes are this checkout's for both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import io
import itertools
import os
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_first_status import export  # noqa: E402  (scripts/ is sys.path[0])
from bench_media import _machine  # noqa: E402
from bench_procs import Meter, Replica, replicas  # noqa: E402

from bot.store import keys  # noqa: E402
from tests import samples  # noqa: E402
from tests.fakes import FakeClaude, FakeSlack  # noqa: E402
from tests.harness import CHANNEL, TEAM, Harness, make_settings, next_ts  # noqa: E402

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SCENARIOS = ("burst", "flood", "memory", "soak")
LATENCY = {"burst": 3.0, "flood": 1.0, "memory": 3.0, "soak": 0.0}  # seconds per answer
# About 150 tokens: two thirds of a 3 s answer at Claude's usual streaming speed.
ANSWER = "The request times out in the payment service after the deploy; roll it back. " * 8
CHUNK = 40  # characters per streamed text delta
FLOOD_REPLIES, FLOOD_PEOPLE = 30, 6  # 5 replies each: under the default 10 a minute
PHOTOS, SOAK_THREADS, SOAK_TURNS = 40, 100, 4
Result = dict[str, Any]


class TimedSlack(FakeSlack):
    """FakeSlack that notes when each thread got its first words and its finished answers."""

    def __init__(self) -> None:
        super().__init__("xoxb-bench-token", team_id=TEAM)
        self.first_words: dict[str, float] = {}  # thread ts → first startStream/postMessage
        self.done: defaultdict[str, list[float]] = defaultdict(list)  # thread → stopStreams
        self.notes: defaultdict[str, list[str]] = defaultdict(list)  # posted, not streamed
        self._changed = asyncio.Event()

    def _words(self, args: dict[str, Any]) -> None:
        if thread := args.get("thread_ts"):
            self.first_words.setdefault(str(thread), time.monotonic())

    def _m_chat_startStream(self, args: dict[str, Any]) -> dict[str, Any]:
        body = super()._m_chat_startStream(args)
        self._words(args)
        return body

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        body = super()._m_chat_postMessage(args)
        self._words(args)
        if thread := args.get("thread_ts"):  # an error or a note: no stream to wait for
            self.notes[str(thread)].append(str(body["message"]["text"]))
            self._changed.set()
        return body

    def _m_chat_stopStream(self, args: dict[str, Any]) -> dict[str, Any]:
        body = super()._m_chat_stopStream(args)
        if thread := self.message(str(args["ts"])).thread_ts:
            self.done[thread].append(time.monotonic())
            self._changed.set()
        return body

    def answered(self, thread: str, turns: int = 1) -> bool:
        """Whether the thread has `turns` finished answers (or a note instead of one)."""
        return len(self.done.get(thread, ())) + len(self.notes.get(thread, ())) >= turns

    async def until(self, check: Callable[[], bool], within: float) -> bool:
        """Wait until `check` passes after some answer finished; False after `within` s."""
        deadline = time.monotonic() + within
        while not check():
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return check()
        return True


# ----- the driver -----
@dataclass
class Rig:
    """The fakes, the bot processes, and signed deliveries spread over them."""

    slack: TimedSlack
    claude: FakeClaude
    bots: list[Replica]
    harnesses: list[Harness]
    acks: list[float] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)  # thread ts → delivery start
    _next: Iterator[int] = field(default_factory=itertools.count)
    _files: Iterator[int] = field(default_factory=itertools.count)

    def set_latency(self, seconds: float) -> None:
        """Claude answers in `seconds`: first words after a third, the rest streamed evenly."""
        self.claude.first_token_delay = seconds / 3
        self.claude.chunk_delay = seconds * 2 / 3 / -(-len(ANSWER) // CHUNK)

    async def _deliver(self, event: dict[str, Any]) -> None:
        harness = self.harnesses[next(self._next) % len(self.harnesses)]
        start = time.monotonic()
        response = await harness.deliver(event)
        self.acks.append(time.monotonic() - start)
        if response.status != 200:
            raise RuntimeError(f"delivery answered {response.status}: {event['type']}")

    async def ask(self, user: str, data: bytes, name: str = "screenshot.png") -> str:
        """A new question mentioning the bot, with a file, delivered as Slack does (twice)."""
        mimetype = "image/jpeg" if name.endswith(".jpg") else "image/png"
        shot = self.slack.add_file(f"F{next(self._files)}", name, data, mimetype, user=user)
        ts = next_ts()
        event: dict[str, Any] = {"type": "app_mention", "user": user, "ts": ts, "team": TEAM}
        event |= {
            "channel": CHANNEL,
            "text": f"<@{self.slack.bot_user_id}> why does this fail?",
            "files": [shot],
        }
        copy = {**event, "type": "message", "channel_type": "channel", "subtype": "file_share"}
        self.started[ts] = time.monotonic()
        await asyncio.gather(self._deliver(event), self._deliver(copy))
        return ts

    async def reply(self, user: str, thread: str, text: str) -> None:
        """A reply in a thread, no mention (a follow-up once the bot answered there)."""
        event: dict[str, Any] = {"type": "message", "user": user, "text": text, "team": TEAM}
        event["ts"] = next_ts()
        event |= {"channel": CHANNEL, "channel_type": "channel", "thread_ts": thread}
        await self._deliver(event)

    def timings(self, threads: list[str]) -> Result:
        """Answer and first-words times of the threads' first answers, and how many failed."""
        answered = [t for t in threads if self.slack.done.get(t)]
        answer = [self.slack.done[t][0] - self.started[t] for t in answered]
        words = [self.slack.first_words[t] - self.started[t] for t in answered]
        twice = sum(len(self.slack.done[t]) > 1 for t in answered)
        return {
            "answer": answer,
            "words": words,
            "failed": len(threads) - len(answered),
            "twice": twice,
        }

    def problems(self) -> list[str]:
        """Notes posted instead of answers, and bot log warnings."""
        notes = [n[:120] for texts in self.slack.notes.values() for n in texts]
        count = sum(b.warnings for b in self.bots)
        logged = [f"log: {line}" for b in self.bots for line in b.warned][:3]
        return (
            notes[:5] + ([f"{count} warning/error lines in the bot logs"] if count else []) + logged
        )


@contextlib.asynccontextmanager
async def rig(replica_count: int, code: Path, extra: dict[str, str]) -> AsyncIterator[Rig]:
    """A warmed-up rig on a flushed database."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    slack = TimedSlack()
    try:
        async with (
            slack,
            FakeClaude() as claude,
            # No connection limit: aiohttp's default of 100 would queue deliveries here.
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
            replicas(slack, claude, REDIS_URL, replica_count, code, extra) as bots,
        ):
            claude.reply, claude.chunk_size = ANSWER, CHUNK
            settings = make_settings(slack, claude, REDIS_URL)
            ids = itertools.count(1)  # event ids unique across the replicas
            harnesses = [
                Harness(slack, claude, settings, http, url=b.url, event_ids=ids) for b in bots
            ]
            bench = Rig(slack, claude, bots, harnesses)
            # Warm-up: imports, decoder workers and connections, on every replica.
            warm = [await bench.ask(f"UWARM{n}", screenshot(n)) for n in range(2 * replica_count)]
            if not await slack.until(lambda: all(slack.answered(t) for t in warm), 120):
                raise RuntimeError(f"warm-up unanswered; bot log: {list(bots[0].log)[-5:]}")
            bench.acks.clear()
            for bot in bots:  # startup warnings (no ADMIN_USERS...) are not the scenario's
                bot.warnings, bot.warned = 0, []
            yield bench
    finally:
        await redis.flushdb()
        await redis.aclose()


@functools.cache
def screenshot(n: int, size: tuple[int, int] = (1440, 900)) -> bytes:
    """Person n's screenshot: a pixel row taller per person (distinct bytes)."""
    return samples.screenshot((size[0], size[1] + n))


@functools.cache
def photo() -> bytes:
    """A 12 MP (4032×3024) camera JPEG of noise over a gradient (4 MB: no easy compression)."""
    size = (4032, 3024)
    noise = Image.merge("RGB", [Image.effect_noise(size, sigma) for sigma in (18, 22, 26)])
    image = Image.blend(noise, Image.linear_gradient("L").resize(size).convert("RGB"), 0.5)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def photo_of(n: int) -> bytes:
    """The photo with a JPEG comment naming person n: the same pixels, distinct bytes."""
    comment = f"person {n}".encode()
    return photo()[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + photo()[2:]


# ----- scenarios -----
async def burst(bench: Rig, args: argparse.Namespace, latency: float) -> Result:
    """N people ask about N screenshots at once."""
    shots = [screenshot(1000 + n, args.screenshot) for n in range(args.questions)]  # unclocked
    bench.set_latency(latency)
    with Meter(bench.bots) as meter:
        threads = await asyncio.gather(
            *(bench.ask(f"U{n:07d}", shot) for n, shot in enumerate(shots))
        )
        await bench.slack.until(
            lambda: all(bench.slack.answered(t) for t in threads), 60 + args.questions * latency
        )
    return {**bench.timings(threads), "acks": bench.acks, **meter.cpu()}


async def flood(bench: Rig, args: argparse.Namespace, latency: float) -> Result:
    """30 quick replies in one answered thread, then a question in another thread."""
    bench.set_latency(latency)
    flooded = await bench.ask("UFLOOD0", screenshot(1))
    await bench.slack.until(lambda: bench.slack.answered(flooded), 60)
    with Meter(bench.bots) as meter:
        start = time.monotonic()
        for n in range(FLOOD_REPLIES):
            await bench.reply(f"UFLOOD{n % FLOOD_PEOPLE}", flooded, f"and what about line {n}?")
        other = await bench.ask("UOTHER", screenshot(2))
        await bench.slack.until(
            lambda: bench.slack.answered(other) and bench.slack.answered(flooded, 31),
            60 + FLOOD_REPLIES * (latency + 1),
        )
    done = bench.slack.done.get(flooded, [])
    return {
        **bench.timings([other]),
        "flood_answers": len(done) - 1,
        "flood_last": (done[-1] - start) if len(done) > 1 else None,
        **meter.cpu(),
    }


async def memory(bench: Rig, args: argparse.Namespace, latency: float) -> Result:
    """40 people share a 12 MP photo each at once: the bot processes' peak memory."""
    photos = [photo_of(n) for n in range(PHOTOS)]
    bench.set_latency(latency)
    meter = Meter(bench.bots)
    idle = max(meter.pss())
    sampler = asyncio.create_task(meter.sample())
    try:
        with meter:
            threads = await asyncio.gather(
                *(bench.ask(f"UPHOTO{n}", p, f"IMG_{n}.jpg") for n, p in enumerate(photos))
            )
            await bench.slack.until(lambda: all(bench.slack.answered(t) for t in threads), 600)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    return {
        **bench.timings(threads),
        "idle_pss": idle,
        "peak_rss": meter.peak_rss,
        "peak_pss": meter.peak_pss,
        "peak_pss_all": meter.peak_pss_all,
        "photo_bytes": len(photos[0]),
        **meter.cpu(),
    }


def _kind(key: str) -> str:
    """A key's name without its ids (the parts with digits): what kind of key it is."""
    return ":".join(p for p in key.split(":") if not any(c.isdigit() for c in p))


async def redis_state() -> Result:
    """Instance used_memory, and this database's keys, keys with no TTL, and their bytes."""
    redis = Redis.from_url(REDIS_URL)
    try:
        names = [k async for k in redis.scan_iter(count=1000)]
        async with redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.ttl(name)
                pipe.memory_usage(name)
            replies = await pipe.execute()
        info = await redis.info("memory")
        stream = await redis.xlen(keys.STREAM)
    finally:
        await redis.aclose()
    ttls, sizes = replies[0::2], replies[1::2]
    return {
        "used_memory": int(info["used_memory"]),
        "keys": len(names),
        "no_ttl": sorted(n.decode() for n, ttl in zip(names, ttls, strict=True) if ttl == -1),
        "kinds": Counter(_kind(n.decode()) for n in names),
        "bytes": sum(s or 0 for s in sizes),
        "stream": stream,
    }


async def soak(bench: Rig, args: argparse.Namespace, latency: float) -> Result:
    """400 turns in a row: threads of a question and three follow-ups, one turn at a time."""
    bench.set_latency(latency)
    meter = Meter(bench.bots)
    checkpoints: list[Result] = [{"turns": 0, "pss": sum(meter.pss()), **await redis_state()}]
    with meter:
        for n in range(SOAK_THREADS):
            user = f"USOAK{n:04d}"
            thread = await bench.ask(user, screenshot(2000 + n))
            for turn in range(1, SOAK_TURNS + 1):
                if turn > 1:
                    await bench.reply(user, thread, f"and the line after that ({turn})?")
                await bench.slack.until(functools.partial(bench.slack.answered, thread, turn), 120)
            if (n + 1) * SOAK_TURNS % 100 == 0:
                state = await redis_state()
                turns = (n + 1) * SOAK_TURNS
                checkpoints.append({"turns": turns, "pss": sum(meter.pss()), **state})
    answered = sum(len(v) for v in bench.slack.done.values()) - 2 * len(bench.bots)
    return {"checkpoints": checkpoints, "answered": answered, **meter.cpu()}


RUNS = {"burst": burst, "flood": flood, "memory": memory, "soak": soak}


async def run(scenario: str, args: argparse.Namespace, code: Path) -> Result:
    """One scenario on fresh fakes, fresh bot processes and a flushed database."""
    extra = dict(item.split("=", 1) for item in args.set)
    latency = LATENCY[scenario] if args.claude_latency is None else args.claude_latency
    load = os.getloadavg()[0]  # the rest of the machine, before the bots start
    async with rig(args.replicas, code, extra) as bench:
        result = await RUNS[scenario](bench, args, latency)
        result |= {
            "latency": latency,
            "problems": bench.problems(),
            "load": (load, os.getloadavg()[0]),
        }
    return result


# ----- the report -----
def _q(values: list[float], q: int) -> float:
    """The q-th percentile (nearest rank; the maximum for 100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-q * len(ordered) // 100) - 1))]


def _s(values: list[float], *qs: int) -> str:
    return " / ".join(f"{_q(values, q):.2f}" for q in qs) if values else "n/a"


def _cpu(r: Result) -> str:
    share = r["driver_cpu"] / r["wall"] if r["wall"] else 0.0
    driver = f"{r['driver_cpu']:.1f} s of {r['wall']:.1f} s ({share:.0%})"
    return f"{driver}; bots {r['bots_cpu']:.1f} s; load {r['load'][0]:.1f} → {r['load'][1]:.1f}"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def row(scenario: str, code: str, r: Result) -> str:
    """One markdown table row for a scenario's result."""
    if scenario == "burst":
        acks = [a * 1e3 for a in r["acks"]]
        return (
            f"| {code} | {_s(r['answer'], 50, 95, 100)} | {_s(r['words'], 50, 95, 100)} "
            f"| {_q(acks, 50):.0f} / {_q(acks, 99):.0f} | {len(r['answer'])} | {_cpu(r)} |"
        )
    if scenario == "flood":
        answer = r["answer"][0] if r["answer"] else float("nan")
        last = "n/a" if r["flood_last"] is None else f"{r['flood_last']:.1f}"
        return (
            f"| {code} | {answer:.2f} | **{answer - r['latency']:.2f}** | {_s(r['words'], 50)} "
            f"| {r['flood_answers']} (last {last}) | {_cpu(r)} |"
        )
    if scenario == "memory":
        return (
            f"| {code} | {_mb(r['idle_pss'])} | **{_mb(r['peak_pss'])}** "
            f"| {_mb(r['peak_pss_all'])} | {_mb(r['peak_rss'])} | {_s(r['answer'], 50, 100)} "
            f"| {_cpu(r)} |"
        )
    first, last = r["checkpoints"][0], r["checkpoints"][-1]
    pss = " → ".join(f"{c['pss'] / 1e6:.0f}" for c in r["checkpoints"])
    return (
        f"| {code} | {r['answered']} | {pss} | {_mb(first['used_memory'])} → "
        f"{_mb(last['used_memory'])} | {first['keys']} → {last['keys']} | "
        f"{len(first['no_ttl'])} → {len(last['no_ttl'])} | {first['bytes'] / 1e3:,.0f} → "
        f"{last['bytes'] / 1e3:,.0f} kB | {first['stream']} → {last['stream']} | {_cpu(r)} |"
    )


HEADERS = {
    "burst": "| Code | Answer p50 / p95 / max (s) | First words p50 / p95 / max (s) "
    "| Ack p50 / p99 (ms) | Answered | Driver CPU |",
    "flood": "| Code | Other thread's answer (s) | Waited beyond Claude (s) | First words (s) "
    "| Flood replies answered (last, s) | Driver CPU |",
    "memory": "| Code | Idle, one replica | Peak, one replica | Peak, all replicas "
    "| Peak RSS, all (shared pages counted per process) | Answer p50 / max (s) | Driver CPU |",
    "soak": "| Code | Turns answered | PSS, all replicas, at 0/100/…/400 turns (MB) "
    "| Redis used_memory | db keys | Keys without TTL | db bytes | Turn stream entries "
    "| Driver CPU |",
}
WHAT = {
    "burst": "{questions} people ask at once about a screenshot each ({size} PNG), each in "
    "their own thread; Claude {latency:g} s",
    "flood": f"{FLOOD_REPLIES} replies ({FLOOD_PEOPLE} people) in one answered thread, "
    "delivered back to back, then a question in another thread; Claude {latency:g} s",
    "memory": f"{PHOTOS} people share a 12 MP JPEG each at once; Claude {{latency:g}} s; memory "
    "is the proportional set size (PSS: shared pages split) of a replica's server and decoder "
    "workers, sampled every 100 ms",
    "soak": f"{SOAK_THREADS * SOAK_TURNS} turns in a row ({SOAK_THREADS} threads of a question "
    f"with a screenshot and {SOAK_TURNS - 1} follow-ups); Claude {{latency:g}} s",
}


def report(scenario: str, args: argparse.Namespace, results: list[tuple[str, Result]]) -> None:
    """Print a scenario's table (one row per code and round) and what went wrong, if anything."""
    latency = results[0][1]["latency"]
    print(f"\n### {scenario}\n")
    size = "×".join(map(str, args.screenshot))
    print(WHAT[scenario].format(questions=args.questions, latency=latency, size=size) + "\n")
    print(HEADERS[scenario])
    print("|" + " --- |" * HEADERS[scenario].count(" | ") + " --- |")
    for code, result in results:
        print(row(scenario, code, result))
    for code, result in results:
        failed, twice = result.get("failed"), result.get("twice")
        found = [f"{failed} unanswered"] if failed else []
        found += [f"{twice} answered more than once"] if twice else []
        for problem in found + result["problems"]:
            print(f"\nProblem ({code}): {problem}")
    if scenario == "soak":
        for code, result in results:
            last = result["checkpoints"][-1]
            print(f"\nKeys without a TTL after ({code}): {last['no_ttl']}")
            kinds = ", ".join(f"{k} {n}" for k, n in last["kinds"].most_common())
            print(f"\nKeys after, by kind ({code}): {kinds}")


async def redis_version() -> str:
    """The Redis server's version."""
    redis = Redis.from_url(REDIS_URL)
    try:
        return str((await redis.info("server"))["redis_version"])
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scenario", choices=SCENARIOS, action="append", help="default: all")
    parser.add_argument("--replicas", type=int, default=2, help="bot processes (default 2)")
    parser.add_argument("--questions", type=int, default=150, help="burst size (default 150)")
    parser.add_argument(
        "--claude-latency",
        type=float,
        help="seconds per answer (default: burst 3, flood 1, memory 3, soak 0)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="bot setting (env)"
    )
    parser.add_argument(
        "--screenshot",
        type=lambda v: tuple(int(n) for n in v.lower().split("x", 1)),
        default=(1440, 900),
        metavar="WxH",
        help="the burst's screenshots (default 1440x900)",
    )
    parser.add_argument("--compare", metavar="GIT-REF", help="also run this commit's bot")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds with --compare")
    args = parser.parse_args()
    settings = " ".join(args.set) or "defaults"
    print(f"Date: {date.today()}  ")
    print(
        f"Machine: {_machine()}; Python {platform.python_version()}; Redis "
        f"{asyncio.run(redis_version())}  "
    )
    print(
        f"{args.replicas} replicas, settings: {settings}; driver CPU: what this process (the "
        "fakes, the deliveries) used of the scenario's wall time; bots: CPU of the bot processes "
        "and their decoder workers; load: the machine's 1-minute load average before the bots "
        "start and at the end"
    )
    with tempfile.TemporaryDirectory() as tmp:
        codes = {"this checkout": ROOT}
        if args.compare:
            codes[args.compare] = export(args.compare, Path(tmp))
        rounds = args.rounds if args.compare else 1
        for scenario in args.scenario or SCENARIOS:
            results = []
            order = list(codes.items())
            for n in range(rounds):  # alternate, so drift on a noisy machine hits both alike
                for name, code in order if n % 2 == 0 else order[::-1]:
                    label = f"{name} (round {n + 1})" if rounds > 1 else name
                    results.append((label, asyncio.run(run(scenario, args, code))))
            report(scenario, args, results)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
