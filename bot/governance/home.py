"""The app's Home tab: how to use the bot, the templates, your own use this month and, for
admins, the workspace's spend against its limits and where it goes."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.governance.admins import Admins
from bot.governance.reports import Reports, Section, bar
from bot.templates import Templates

Block = dict[str, Any]
SECTION_CHARS = 3000  # Slack's limit on a section's text
MAX_BLOCKS = 100  # and on a Home tab's blocks


class HomeTab:
    """Builds and publishes one person's Home tab (views.publish)."""

    def __init__(
        self,
        slack: AsyncWebClient,
        templates: Templates,
        reports: Reports,
        admins: Admins,
        *,
        command: str,
    ) -> None:
        self.slack = slack
        self.templates = templates
        self.reports = reports
        self.admins = admins
        self.command = command

    async def publish(self, team_id: str, user_id: str) -> None:
        """Show `user_id` their Home tab as it is now."""
        await self.slack.views_publish(user_id=user_id, view=await self.view(team_id, user_id))

    async def view(self, team_id: str, user_id: str) -> dict[str, Any]:
        """The Home tab `user_id` sees: the workspace's figures only if they are an admin."""
        blocks = [*self._how_to(), *self._templates()]
        sections = await self.reports.person(team_id, user_id, today=False)
        if await self.admins.is_admin(user_id):
            sections += await self.reports.workspace(team_id)
        for section in sections:
            blocks += _section_blocks(section)
        return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}

    def _how_to(self) -> list[Block]:
        c = self.command
        text = (
            "Share a screenshot, photo, chart or PDF, *mention me* with a question, and I "
            "answer in its thread. Keep asking there without mentioning me again; "
            "`@me forget` in a thread makes me forget it. In a DM, just ask.\n"
            f"`{c} use NAME` picks a channel's template; the menu under my first answer "
            "re-answers with another one; the *Ask Claude about this…* shortcut asks about any "
            f"message. `{c} usage` shows what you have used."
        )
        return [_header("Ask Claude about what you see"), _markdown(text)]

    def _templates(self) -> list[Block]:
        lines = [f"• *{t.name}*: {t.description}" for t in self.templates]
        return [{"type": "divider"}, _header("Templates"), *_chunked(lines)]


def _section_blocks(section: Section) -> list[Block]:
    lines = []
    for row in section.rows:
        drawn = f"`{bar(row.share)}`  " if row.share is not None else ""
        detail = f"\n{row.detail}" if row.detail else ""
        lines.append(f"{row.label}: {drawn}*{row.amount}*{detail}")
    if not lines:
        lines = [f"_{section.empty}_"]
    return [{"type": "divider"}, _header(section.title), *_chunked(lines)]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _markdown(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _chunked(lines: list[str]) -> list[Block]:
    """Lines as as few sections as fit Slack's 3,000 characters each."""
    blocks: list[Block] = []
    current = ""
    for line in lines:
        line = line[:SECTION_CHARS]
        if current and len(current) + 1 + len(line) > SECTION_CHARS:
            blocks.append(_markdown(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_markdown(current))
    return blocks
