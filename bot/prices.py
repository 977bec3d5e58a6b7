"""What Claude's tokens cost: Anthropic's published prices, and one answer's cost from its usage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# USD per million tokens, from Anthropic's pricing page
# (https://platform.claude.com/docs/en/about-claude/pricing, "Model pricing"), read 2026-12.
# Cache writes are the 5-minute ones: the bot's top-level cache_control uses the default TTL.
# Bedrock and Vertex bill the same list prices for these models; a negotiated or regional price
# (or a model missing here) goes in CLAUDE_PRICES.


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind; `long_prompt` is a higher tier past a prompt size."""

    input: Decimal
    output: Decimal
    cache_write: Decimal
    cache_read: Decimal
    # (prompt tokens, price): a request whose prompt (input plus cache reads and writes) is
    # over that many tokens pays the second price on every token, output included.
    long_prompt: tuple[int, Price] | None = None

    def for_prompt(self, prompt_tokens: int) -> Price:
        """The tier a request with this many prompt tokens is billed at."""
        if self.long_prompt and prompt_tokens > self.long_prompt[0]:
            return self.long_prompt[1]
        return self

    def describe(self) -> str:
        """The price as CLAUDE_PRICES would write it."""
        return (
            f"input={self.input},output={self.output},"
            f"cache_write={self.cache_write},cache_read={self.cache_read}"
        )


def _p(input: str, output: str, cache_write: str, cache_read: str) -> Price:
    return Price(Decimal(input), Decimal(output), Decimal(cache_write), Decimal(cache_read))


_OPUS_4_5 = _p("5", "25", "6.25", "0.50")
_OPUS_4 = _p("15", "75", "18.75", "1.50")
_SONNET_4 = _p("3", "15", "3.75", "0.30")

PUBLISHED: dict[str, Price] = {
    "claude-fable-5-1": _p("10", "50", "12.50", "0.25"),
    "claude-mythos-5-1": _p("10", "50", "12.50", "0.25"),
    "claude-fable-5": _p("10", "50", "12.50", "1"),
    "claude-mythos-5": _p("10", "50", "12.50", "1"),
    "claude-opus-5-5": _p("4", "20", "5", "0.20"),
    "claude-opus-5": _OPUS_4_5,
    "claude-opus-4-8": _OPUS_4_5,
    "claude-opus-4-7": _OPUS_4_5,
    "claude-opus-4-6": _OPUS_4_5,
    "claude-opus-4-5": _OPUS_4_5,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-3-opus": _OPUS_4,
    # Sonnet 5.5's cache reads were cut from $0.20 to $0.10 on 2026-10-07.
    "claude-sonnet-5-5": _p("2", "10", "2.50", "0.10"),
    "claude-sonnet-5": _p("2", "10", "2.50", "0.20"),
    "claude-sonnet-4-6": _SONNET_4,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-3-7-sonnet": _SONNET_4,
    # Haiku 5.5 is priced by prompt length: over 100,000 prompt tokens, five times as much.
    "claude-haiku-5-5": Price(
        Decimal("0.10"),
        Decimal("0.50"),
        Decimal("0.125"),
        Decimal("0.01"),
        long_prompt=(100_000, _p("0.50", "2.50", "0.625", "0.05")),
    ),
    "claude-haiku-4-5": _p("1", "5", "1.25", "0.10"),
    "claude-3-5-haiku": _p("0.80", "4", "1", "0.08"),
    "claude-3-haiku": _p("0.25", "1.25", "0.30", "0.03"),
}


def model_family(model: str) -> str:
    """The Claude API name of a model id in any platform's spelling (dates and versions off)."""
    # Bedrock wraps it (us.anthropic.claude-opus-4-7-v1:0, or an ARN ending in one), Vertex
    # appends @date, the Claude API may append a date or -latest, Claude Code a [1m].
    found = re.search(r"claude-[a-z0-9-]+", model.lower())
    name = found.group() if found else model.lower()
    name = re.sub(r"-v\d+$", "", name)
    return re.sub(r"-(\d{8}|latest)$", "", name)


def published_price(model: str) -> Price | None:
    """Anthropic's list price for `model`, if this release knows it."""
    return PUBLISHED.get(model_family(model))


_KINDS = ("input", "output", "cache_write", "cache_read")


def parse_prices(text: str) -> Price:
    """CLAUDE_PRICES: `input=3,output=15,cache_write=3.75,cache_read=0.30` (USD per MTok)."""
    values: dict[str, Decimal] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        kind, sep, amount = (s.strip() for s in part.partition("="))
        if not sep or kind not in _KINDS:
            raise ValueError(f"give {', '.join(f'{k}=N' for k in _KINDS)} in USD per MTok")
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"{kind} must be a number of USD per million tokens") from None
        if not value.is_finite() or value < 0:
            raise ValueError(f"{kind} must be a number of USD per million tokens")
        values[kind] = value
    if "input" not in values or "output" not in values:
        raise ValueError("needs at least input=N,output=N (USD per million tokens)")
    # Anthropic's standard multipliers, where the operator gives only the base prices.
    values.setdefault("cache_write", values["input"] * Decimal("1.25"))
    values.setdefault("cache_read", values["input"] * Decimal("0.1"))
    return Price(
        input=values["input"],
        output=values["output"],
        cache_write=values["cache_write"],
        cache_read=values["cache_read"],
    )


@dataclass(frozen=True)
class Tokens:
    """One answer's token counts, as Claude's usage reports them."""

    input: int = 0
    output: int = 0
    cache_write: int = 0
    cache_read: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by kind."""
        return {k: getattr(self, k) for k in _KINDS}


MICRO = Decimal(1_000_000)


def cost_micro_usd(price: Price, tokens: Tokens) -> int:
    """What the tokens cost, in millionths of a dollar (tokens × USD per MTok)."""
    tier = price.for_prompt(tokens.input + tokens.cache_write + tokens.cache_read)
    total = (
        tokens.input * tier.input
        + tokens.output * tier.output
        + tokens.cache_write * tier.cache_write
        + tokens.cache_read * tier.cache_read
    )
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def micro_usd(usd: float | Decimal | str) -> int:
    """Dollars as millionths of a dollar, the unit spend is counted in."""
    return int((Decimal(str(usd)) * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usd(micro: int) -> str:
    """Millionths of a dollar as `$1.23` (cents; `<$0.01` for a little more than nothing)."""
    if 0 < micro < 5_000:
        return "<$0.01"
    return f"${Decimal(micro) / MICRO:,.2f}"
