"""The `/vision` slash command: help, templates, channel settings (who may change them), usage
and the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.governance.admins import Admins
from bot.governance.reports import Reports, as_text
from bot.prices import micro_usd, usd
from bot.slack.text import inert
from bot.store.audit import AuditLog
from bot.store.channels import ChannelSettings
from bot.templates import Templates

AUDIT_SHOWN = 50
ADMIN_ONLY = {"auto", "limit", "off", "on"}
_AMOUNT = re.compile(r"\$?(\d{1,7}(?:\.\d{1,2})?)")


@dataclass(frozen=True)
class CommandReply:
    """What the command answers: ephemeral unless the whole channel should see it."""

    text: str
    in_channel: bool = False


@dataclass(frozen=True)
class Invocation:
    """Who typed the command, where."""

    team_id: str
    channel_id: str
    user_id: str

    @property
    def in_dm(self) -> bool:
        """Typed in a DM with the bot, where channel settings mean nothing."""
        return self.channel_id.startswith("D")


class VisionCommand:
    """Runs one `/vision …` invocation; Redis and a cached users.info, well within Slack's 3 s."""

    def __init__(
        self,
        name: str,
        templates: Templates,
        channels: ChannelSettings,
        *,
        reports: Reports,
        admins: Admins,
        audit: AuditLog,
        prices_known: bool,
    ) -> None:
        self.name = name
        self.templates = templates
        self.channels = channels
        self.reports = reports
        self.admins = admins
        self.audit = audit
        self.prices_known = prices_known

    async def run(self, *, team_id: str, channel_id: str, user_id: str, text: str) -> CommandReply:
        """The reply to `/vision text` typed by `user_id` in `channel_id`."""
        words = text.split()
        sub = words[0].lower() if words else "help"
        args = [w.lower() for w in words[1:]]
        at = Invocation(team_id, channel_id, user_id)
        if sub in ADMIN_ONLY and not await self.admins.may_change_settings(user_id):
            return CommandReply(
                f"Only the bot's admins can change that: {self.admins.mentions()}. Ask one of them."
            )
        if sub == "help":
            return await self._help(at)
        if sub == "list":
            return self._list()
        if sub == "use" and len(args) == 1:
            return await self._use(at, args[0])
        if sub == "auto" and args in (["on"], ["off"]):
            return await self._auto(at, args[0] == "on")
        if sub == "limit" and len(args) == 1:
            return await self._limit(at, args[0])
        if sub in ("off", "on") and not args:
            return await self._switch(at, sub == "on")
        if sub == "usage":
            return await self._usage(at)
        if sub == "audit":
            return await self._audit(at)
        help_reply = await self._help(at)
        typed = inert(text.strip())
        return CommandReply(f"I don't know `{self.name} {typed}`.\n\n{help_reply.text}")

    async def _help(self, at: Invocation) -> CommandReply:
        template = await self._channel_template(at)
        auto = await self.channels.auto(at.team_id, at.channel_id)
        limit = await self.channels.limit(at.team_id, at.channel_id)
        off = await self.channels.is_off(at.team_id, at.channel_id)
        c = self.name
        who = " (admins only)" if self.admins.restricted else ""
        return CommandReply(
            "I answer questions about screenshots, photos, charts and PDFs with Claude. "
            "Mention me on a message with an image (or in its thread) and ask; keep asking "
            "in the thread without mentioning me again. A template sets how I look at "
            "images.\n"
            f"• `{c} list`: the templates\n"
            f"• `{c} use NAME`: this channel's default template (now *{template}*)\n"
            f"• `{c} auto on|off`: answer every image shared here without a mention "
            f"(now *{'on' if auto else 'off'}*){who}\n"
            f"• `{c} limit N|off`: this channel's daily Claude limit in USD "
            f"(now *{usd(limit) if limit is not None else 'none'}*){who}\n"
            f"• `{c} off|on`: stop or resume answering in this channel "
            f"(now *{'off' if off else 'on'}*){who}\n"
            f"• `{c} usage`: what you have used (admins: the workspace too)\n"
            f"• `{c} audit`: the latest settings changes (admins)\n"
            "In a thread, pick another template from the menu under my first answer, or use "
            "the *Ask Claude about this…* message shortcut. `@me forget` in a thread makes "
            "me forget it."
        )

    def _list(self) -> CommandReply:
        # Template text comes from TEMPLATES_FILE: shown, never notifying anyone.
        lines = [f"• *{inert(t.name)}*: {inert(t.description)}" for t in self.templates]
        return CommandReply("Templates:\n" + "\n".join(lines))

    async def _use(self, at: Invocation, name: str) -> CommandReply:
        if name not in self.templates:
            return CommandReply(
                f"There is no template called `{inert(name)}`. Valid names: "
                f"{', '.join(f'`{inert(n)}`' for n in self.templates.names)}."
            )
        await self.channels.set_template(at.team_id, at.channel_id, name)
        await self._record(at, f"set the default template to *{inert(name)}*")
        return CommandReply(f"This channel now uses the *{inert(name)}* template by default.")

    async def _auto(self, at: Invocation, on: bool) -> CommandReply:
        await self.channels.set_auto(at.team_id, at.channel_id, on)
        await self._record(at, f"turned automatic answers {'on' if on else 'off'}")
        if not on:
            return CommandReply(
                f"<@{at.user_id}> turned off automatic answers: images shared here are left "
                "alone until someone mentions me.",
                in_channel=True,
            )
        template = await self._channel_template(at)
        return CommandReply(
            f"<@{at.user_id}> turned on automatic answers: I'll answer every image shared in "
            f"this channel in its thread, with the *{template}* template. "
            f"`{self.name} auto off` stops it.",
            in_channel=True,
        )

    async def _limit(self, at: Invocation, amount: str) -> CommandReply:
        if at.in_dm:
            return CommandReply("Channel limits are for channels: run it in one.")
        if amount == "off":
            await self.channels.set_limit(at.team_id, at.channel_id, None)
            await self._record(at, "removed the channel's daily limit")
            return CommandReply(
                f"<@{at.user_id}> removed this channel's daily Claude limit "
                "(the workspace's limits still apply).",
                in_channel=True,
            )
        match = _AMOUNT.fullmatch(amount)
        if not match or float(match.group(1)) <= 0:
            return CommandReply(
                f"Give the limit in US dollars per day, like `{self.name} limit 5`, or "
                f"`{self.name} limit off`."
            )
        if not self.prices_known:
            return CommandReply(
                "I can't keep a limit: I don't know the model's price. Whoever runs the bot "
                "can set CLAUDE_PRICES."
            )
        cap = micro_usd(match.group(1))
        await self.channels.set_limit(at.team_id, at.channel_id, cap)
        await self._record(at, f"set the channel's daily limit to {usd(cap)}")
        return CommandReply(
            f"<@{at.user_id}> set this channel's daily Claude limit to {usd(cap)}: past it, "
            "questions here wait until midnight UTC.",
            in_channel=True,
        )

    async def _switch(self, at: Invocation, on: bool) -> CommandReply:
        if at.in_dm:
            return CommandReply("That's for channels: run it in the channel to switch.")
        await self.channels.set_off(at.team_id, at.channel_id, not on)
        await self._record(at, f"turned the bot {'on' if on else 'off'} in the channel")
        if on:
            return CommandReply(
                f"<@{at.user_id}> turned me back on here: mention me on an image to ask.",
                in_channel=True,
            )
        return CommandReply(
            f"<@{at.user_id}> turned me off here: I won't answer in this channel until "
            f"`{self.name} on`.",
            in_channel=True,
        )

    async def _usage(self, at: Invocation) -> CommandReply:
        sections = await self.reports.person(at.team_id, at.user_id)
        if await self.admins.is_admin(at.user_id):
            sections += await self.reports.workspace(at.team_id)
        return CommandReply(as_text(sections))

    async def _audit(self, at: Invocation) -> CommandReply:
        if not await self.admins.is_admin(at.user_id):
            return CommandReply(f"The audit log is for the bot's admins: {self.admins.mentions()}.")
        changes = await self.audit.latest(at.team_id, AUDIT_SHOWN)
        if not changes:
            return CommandReply("No settings changes in the last 90 days.")
        lines = [
            f"• {datetime.fromtimestamp(c.at, UTC):%Y-%m-%d %H:%M} UTC <@{c.user_id}> "
            f"in {_where(c.channel_id)}: {c.what}"
            for c in changes
        ]
        title = f"*The latest {len(changes)} settings changes* (kept 90 days)"
        return CommandReply("\n".join([title, *lines]))

    async def _record(self, at: Invocation, what: str) -> None:
        await self.audit.record(at.team_id, user_id=at.user_id, channel_id=at.channel_id, what=what)

    async def _channel_template(self, at: Invocation) -> str:
        """The template new questions here get (a default TEMPLATES_FILE dropped falls back)."""
        name = self.templates.get(await self.channels.template(at.team_id, at.channel_id)).name
        return inert(name)


def _where(channel_id: str) -> str:
    return "a DM" if channel_id.startswith("D") else f"<#{channel_id}>"
