"""Who spends what, as sections both `/vision usage` and the Home tab draw: a person's own use
for everyone, the workspace's (against its limits, top ten by channel, person and template)
for admins only."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.governance.budget import WorkspaceLimits, periods
from bot.prices import usd
from bot.store.feedback import FeedbackCounts
from bot.store.spend import Ranked, SpendLedger, Totals

BAR_CELLS = 10
FEEDBACK_DAYS = 30


@dataclass(frozen=True)
class Row:
    """One line of a section: what, how much, and its share of a whole (drawn as a bar)."""

    label: str
    amount: str
    detail: str = ""
    share: float | None = None


@dataclass(frozen=True)
class Section:
    """A titled list of rows; `empty` is what it says when there are none."""

    title: str
    rows: list[Row] = field(default_factory=list)
    empty: str = "nothing yet"


def bar(share: float) -> str:
    """A share of 0..1 as a bar of block characters."""
    filled = round(min(max(share, 0.0), 1.0) * BAR_CELLS)
    return "█" * filled + "░" * (BAR_CELLS - filled)


class Reports:
    """Reads the spend ledger into sections."""

    def __init__(
        self, ledger: SpendLedger, limits: WorkspaceLimits, feedback: FeedbackCounts
    ) -> None:
        self.ledger = ledger
        self.limits = limits
        self.feedback = feedback

    async def person(self, team_id: str, user_id: str, *, today: bool = True) -> list[Section]:
        """A person's own use, by template: today (unless `today` is False) and this month."""
        now = periods()
        month = await self.ledger.person(team_id, now.month, user_id)
        sections = [_own("Your use this month", month)]
        if today:
            day = await self.ledger.person(team_id, now.day, user_id)
            sections.insert(0, _own("Your use today (UTC)", day))
        return sections

    async def workspace(self, team_id: str) -> list[Section]:
        """The workspace's spend against its limits and its top spenders this month."""
        now = periods()
        day, month, top, reserved, votes = await asyncio.gather(
            self.ledger.totals(team_id, now.day),
            self.ledger.totals(team_id, now.month),
            self.ledger.top(team_id, now.month),
            self.ledger.reserved(team_id),
            self.feedback.counts(team_id, days=FEEDBACK_DAYS),
        )
        return [
            self._against_limits(day, month, reserved),
            *_rankings(top, month.cost),
            _feedback(votes),
        ]

    def _against_limits(self, day: Totals, month: Totals, reserved: int) -> Section:
        rows = [
            _limit_row("Today (UTC)", day, self.limits.day),
            _limit_row("This month", month, self.limits.month),
        ]
        if self.limits.person_day is not None:
            rows.append(Row("Each person, per day", f"limit {usd(self.limits.person_day)}"))
        if reserved:
            rows.append(Row("Answers being written", f"{usd(reserved)} reserved"))
        return Section("This workspace", rows)


def _own(title: str, by_template: dict[str, Totals]) -> Section:
    ordered = sorted(by_template.items(), key=lambda kv: -kv[1].cost)
    rows = [Row(f"*{name}*", usd(t.cost), _detail(t)) for name, t in ordered]
    if len(rows) > 1:
        total = Totals(
            cost=sum(t.cost for t in by_template.values()),
            answers=sum(t.answers for t in by_template.values()),
            tokens={
                kind: sum(t.tokens.get(kind, 0) for t in by_template.values())
                for kind in ("input", "cache_write", "cache_read", "output")
            },
        )
        rows.append(Row("all templates", usd(total.cost), _detail(total)))
    return Section(title, rows)


def _detail(t: Totals) -> str:
    # Cache writes are input tokens too (billed a little higher); reads are the cached ones.
    fresh = t.tokens.get("input", 0) + t.tokens.get("cache_write", 0)
    answers = f"{t.answers} answer{'s' if t.answers != 1 else ''}"
    return (
        f"{answers} · {fresh:,} input · {t.tokens.get('cache_read', 0):,} cached · "
        f"{t.tokens.get('output', 0):,} output tokens"
    )


def _limit_row(label: str, spent: Totals, limit: int | None) -> Row:
    if limit is None:
        return Row(label, usd(spent.cost), f"{spent.answers} answers · no limit")
    share = spent.cost / limit
    return Row(
        label,
        f"{usd(spent.cost)} of {usd(limit)}",
        f"{spent.answers} answers · {round(share * 100)}% of the limit",
        share,
    )


def _rankings(top: Ranked, month_cost: int) -> list[Section]:
    def rows(entries: list[tuple[str, int]], label: str) -> list[Row]:
        return [
            Row(
                label.format(key) if key != "dm" else "direct messages",
                usd(cost),
                "",
                cost / month_cost if month_cost else 0.0,
            )
            for key, cost in entries
        ]

    return [
        Section("Top channels this month", rows(top.channel, "<#{}>")),
        Section("Top people this month", rows(top.person, "<@{}>")),
        Section("Top templates this month", rows(top.template, "*{}*")),
    ]


def _feedback(votes: dict[str, dict[str, int]]) -> Section:
    """Thumbs up and down per template; the bar is the share of thumbs up."""
    rows = []
    for name, counts in sorted(votes.items(), key=lambda kv: -sum(kv[1].values())):
        up, down = counts.get("positive", 0), counts.get("negative", 0)
        if up + down:
            share = up / (up + down)
            rows.append(
                Row(f"*{name}*", f"👍 {up} · 👎 {down}", f"{round(share * 100)}% helpful", share)
            )
    return Section(f"Feedback by template, last {FEEDBACK_DAYS} days", rows)


def as_text(sections: list[Section]) -> str:
    """The sections as mrkdwn (for a slash command's reply)."""
    parts = []
    for section in sections:
        lines = [f"*{section.title}*"]
        for row in section.rows:
            shown = f"`{bar(row.share)}` " if row.share is not None else ""
            detail = f" ({row.detail})" if row.detail else ""
            lines.append(f"• {row.label}: {shown}{row.amount}{detail}")
        if not section.rows:
            lines.append(f"_{section.empty}_")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)
