"""Spend limits around each answer: reserve before Claude is called, count the real cost after,
and tell the admins when the workspace nears or reaches a limit."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.config import Settings
from bot.errors import OverBudget
from bot.governance.admins import Admins
from bot.metrics import Metrics
from bot.models import Job
from bot.prices import MICRO, Price, Tokens, cost_micro_usd, micro_usd, usd
from bot.slack.notes import Notes
from bot.store.channels import ChannelSettings
from bot.store.spend import Hold, Limits, Periods, Refused, SpendLedger

logger = logging.getLogger(__name__)

# Until a workspace has answers to average, an answer is reserved at about what a question on
# one screenshot costs.
TYPICAL_ANSWER = Tokens(input=3_000, output=500)
WARN_AT = (100, 80)  # percent of a workspace limit, highest first


@dataclass(frozen=True)
class WorkspaceLimits:
    """The operator's limits (SPEND_LIMIT_…), in µ$."""

    day: int | None = None
    month: int | None = None
    person_day: int | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkspaceLimits:
        """The limits the settings name."""

        def micro(value: float | None) -> int | None:
            return None if value is None else micro_usd(value)

        return cls(
            day=micro(settings.spend_limit_usd_per_day),
            month=micro(settings.spend_limit_usd_per_month),
            person_day=micro(settings.user_spend_limit_usd_per_day),
        )


def periods(now: datetime | None = None) -> Periods:
    """The UTC day and month spend is counted in now."""
    today = (now or datetime.now(UTC)).date()
    return Periods(day=today.isoformat(), month=today.strftime("%Y-%m"))


class Spend:
    """One answer's reservation, to be settled with the answer's real cost."""

    def __init__(self, budget: Budget, hold: Hold) -> None:
        self.budget = budget
        self.hold = hold
        self.settled = False

    async def settle(self, tokens: Tokens, template: str) -> None:
        """Count what the answer really cost, in place of its reservation."""
        self.settled = True
        await self.budget.settle(self.hold, tokens, template)


class Budget:
    """Checks the limits before an answer and counts its cost after, across all processes."""

    def __init__(
        self,
        ledger: SpendLedger,
        channels: ChannelSettings,
        *,
        price: Price | None,
        limits: WorkspaceLimits,
        admins: Admins,
        notes: Notes,
        metrics: Metrics,
    ) -> None:
        self.ledger = ledger
        self.channels = channels
        self.price = price
        self.limits = limits
        self.admins = admins
        self.notes = notes
        self.metrics = metrics

    @contextlib.asynccontextmanager
    async def hold(self, job: Job) -> AsyncIterator[Spend]:
        """Reserve an answer's cost, or raise OverBudget; released unless settled."""
        refused_or_hold = await self.ledger.reserve(
            job.team_id,
            channel=channel_key(job),
            person=job.user_id or "",
            periods=periods(),
            limits=await self._limits(job),
            default_estimate=self.cost(TYPICAL_ANSWER),
        )
        if isinstance(refused_or_hold, Refused):
            refused = refused_or_hold
            logger.info(
                "over the %s limit (%d of %d µ$ with reservations): %s",
                refused.limit,
                refused.spent,
                refused.cap,
                job.ids,
            )
            raise OverBudget(await self._refusal(refused_or_hold))
        spend = Spend(self, refused_or_hold)
        try:
            yield spend
        finally:
            if not spend.settled:
                # It expires on its own too, should this process die before getting here.
                with contextlib.suppress(Exception):
                    await self.ledger.release(refused_or_hold)

    def cost(self, tokens: Tokens) -> int:
        """What the tokens cost in µ$ (0 when the model's price is unknown)."""
        return cost_micro_usd(self.price, tokens) if self.price else 0

    async def settle(self, hold: Hold, tokens: Tokens, template: str) -> None:
        """Count an answer's cost everywhere it is counted; warn the admins if it crossed a
        threshold of a workspace limit."""
        cost = self.cost(tokens)
        self.metrics.cost.labels(template).inc(float(cost / MICRO))
        day, month = await self.ledger.settle(
            hold, cost=cost, template=template, tokens=tokens.as_dict()
        )
        await self._warn(hold.team_id, "day", hold.periods.day, day, self.limits.day)
        await self._warn(hold.team_id, "month", hold.periods.month, month, self.limits.month)

    async def _limits(self, job: Job) -> Limits:
        channel = None if job.is_dm else await self.channels.limit(job.team_id, job.channel_id)
        return Limits(
            month=self.limits.month,
            day=self.limits.day,
            channel=channel,
            person=self.limits.person_day if job.user_id else None,
        )

    async def _refusal(self, refused: Refused) -> str:
        cap = usd(refused.cap)
        tomorrow = f"It resets at midnight UTC, {_until_midnight()}."
        if refused.limit == "channel":
            who = (
                f"An admin ({await self.admins.names()}) can change it"
                if self.admins.restricted
                else "Anyone here can change it"
            )
            return (
                f"This channel has reached its daily Claude limit of {cap}, so I can't answer "
                f"now. {tomorrow} {who} with `/vision limit`."
            )
        raise_it = (
            f"The bot's admins ({await self.admins.names()}) can raise it."
            if self.admins.restricted
            else "Whoever runs this bot can raise it."
        )
        if refused.limit == "month":
            return (
                f"This workspace has reached its monthly Claude limit of {cap}, so I can't "
                f"answer now. It resets on {_next_month()} (UTC). {raise_it}"
            )
        if refused.limit == "day":
            return (
                f"This workspace has reached its daily Claude limit of {cap}, so I can't "
                f"answer now. {tomorrow} {raise_it}"
            )
        return (
            f"You've reached your daily Claude limit of {cap}, so I can't answer now. "
            f"{tomorrow} {raise_it}"
        )

    async def _warn(
        self, team_id: str, kind: str, period: str, spent: int, limit: int | None
    ) -> None:
        """DM each ADMIN_USERS admin once per threshold per period, whichever process sees it."""
        if not limit or not self.admins.configured or spent < limit * WARN_AT[-1] // 100:
            return
        told = False
        for percent in WARN_AT:
            if spent * 100 < limit * percent or not await self.ledger.first_warning(
                team_id, period, percent
            ):
                continue
            if not told:  # past both at once: one DM, about the higher
                told = True
                text = _warning(kind, percent, spent, limit)
                for admin in self.admins.configured:
                    await self.notes.direct(admin, text)


def channel_key(job: Job) -> str:
    """Where spend is counted: the channel, or one bucket for all DMs with the bot."""
    return "dm" if job.is_dm else job.channel_id


def _warning(kind: str, percent: int, spent: int, limit: int) -> str:
    name = "SPEND_LIMIT_USD_PER_DAY" if kind == "day" else "SPEND_LIMIT_USD_PER_MONTH"
    when = "today" if kind == "day" else "this month"
    if percent >= 100:
        return (
            f"This workspace has reached its {'daily' if kind == 'day' else 'monthly'} Claude "
            f"limit: {usd(spent)} of {usd(limit)} {when}. New questions are refused until it "
            f"resets; raise {name} to allow more. `/vision usage` shows where it went."
        )
    return (
        f"Heads-up: this workspace has spent {usd(spent)} of its "
        f"{'daily' if kind == 'day' else 'monthly'} Claude limit of {usd(limit)} {when} "
        f"({spent * 100 // limit}%). `/vision usage` shows where it went."
    )


def _until_midnight(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    left = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC) - now
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    return f"in {hours} h {minutes} min" if hours else f"in {max(minutes, 1)} min"


def _next_month(today: date | None = None) -> str:
    today = today or datetime.now(UTC).date()
    first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return f"{first.day} {first:%B}"
