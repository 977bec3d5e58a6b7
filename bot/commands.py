"""The `/vision` slash command: help, templates, channel defaults, auto mode and usage."""

from __future__ import annotations

from dataclasses import dataclass

from bot.slack.text import inert
from bot.store.channels import ChannelSettings
from bot.store.usage import KINDS, UsageCounters
from bot.templates import Templates


@dataclass(frozen=True)
class CommandReply:
    """What the command answers: ephemeral unless the whole channel should see it."""

    text: str
    in_channel: bool = False


class VisionCommand:
    """Runs one `/vision …` invocation; every path is Redis-only, well within Slack's 3 s."""

    def __init__(
        self, name: str, templates: Templates, channels: ChannelSettings, usage: UsageCounters
    ) -> None:
        self.name = name
        self.templates = templates
        self.channels = channels
        self.usage = usage

    async def run(self, *, team_id: str, channel_id: str, user_id: str, text: str) -> CommandReply:
        """The reply to `/vision text` typed by `user_id` in `channel_id`."""
        words = text.split()
        sub = words[0].lower() if words else "help"
        args = words[1:]
        if sub == "help":
            return await self._help(team_id, channel_id)
        if sub == "list":
            return self._list()
        if sub == "use" and len(args) == 1:
            return await self._use(team_id, channel_id, args[0].lower())
        if sub == "auto" and len(args) == 1 and args[0].lower() in ("on", "off"):
            return await self._auto(team_id, channel_id, user_id, args[0].lower() == "on")
        if sub == "usage":
            return await self._usage(team_id)
        help_reply = await self._help(team_id, channel_id)
        typed = inert(text.strip())
        return CommandReply(f"I don't know `{self.name} {typed}`.\n\n{help_reply.text}")

    async def _help(self, team_id: str, channel_id: str) -> CommandReply:
        template = await self._channel_template(team_id, channel_id)
        auto = await self.channels.auto(team_id, channel_id)
        c = self.name
        return CommandReply(
            "I answer questions about screenshots, photos, charts and PDFs with Claude. "
            "Mention me on a message with an image (or in its thread) and ask; keep asking "
            "in the thread without mentioning me again. A template sets how I look at "
            "images.\n"
            f"• `{c} list`: the templates\n"
            f"• `{c} use NAME`: this channel's default template (now *{template}*)\n"
            f"• `{c} auto on|off`: answer every image shared here without a mention "
            f"(now *{'on' if auto else 'off'}*)\n"
            f"• `{c} usage`: tokens used in this workspace\n"
            "In a thread, pick another template from the menu under my first answer, or use "
            "the *Ask Claude about this…* message shortcut. `@me forget` in a thread makes "
            "me forget it."
        )

    def _list(self) -> CommandReply:
        # Template text comes from TEMPLATES_FILE: shown, never notifying anyone.
        lines = [f"• *{inert(t.name)}*: {inert(t.description)}" for t in self.templates]
        return CommandReply("Templates:\n" + "\n".join(lines))

    async def _use(self, team_id: str, channel_id: str, name: str) -> CommandReply:
        if name not in self.templates:
            return CommandReply(
                f"There is no template called `{inert(name)}`. Valid names: "
                f"{', '.join(f'`{inert(n)}`' for n in self.templates.names)}."
            )
        await self.channels.set_template(team_id, channel_id, name)
        return CommandReply(f"This channel now uses the *{inert(name)}* template by default.")

    async def _auto(self, team_id: str, channel_id: str, user_id: str, on: bool) -> CommandReply:
        await self.channels.set_auto(team_id, channel_id, on)
        if not on:
            return CommandReply(
                f"<@{user_id}> turned off automatic answers: images shared here are left "
                "alone until someone mentions me.",
                in_channel=True,
            )
        template = await self._channel_template(team_id, channel_id)
        return CommandReply(
            f"<@{user_id}> turned on automatic answers: I'll answer every image shared in "
            f"this channel in its thread, with the *{template}* template. "
            f"`{self.name} auto off` stops it.",
            in_channel=True,
        )

    async def _channel_template(self, team_id: str, channel_id: str) -> str:
        """The template new questions here get (a default TEMPLATES_FILE dropped falls back)."""
        return inert(self.templates.get(await self.channels.template(team_id, channel_id)).name)

    async def _usage(self, team_id: str) -> CommandReply:
        report = await self.usage.report(team_id)
        return CommandReply(
            "*Tokens used in this workspace*\n"
            f"*Today (UTC)*\n{_table(report.today)}\n*Last 30 days*\n{_table(report.month)}"
        )


def _table(per_channel: dict[str, dict[str, int]]) -> str:
    if not per_channel:
        return "_nothing yet_"
    rows = sorted(per_channel.items(), key=lambda kv: -sum(kv[1].values()))
    total = {k: sum(c[k] for _, c in rows) for k in KINDS}
    lines = [f"• <#{channel}>: {_counts(c)}" for channel, c in rows]
    lines.append(f"• *all channels*: {_counts(total)}")
    return "\n".join(lines)


def _counts(c: dict[str, int]) -> str:
    # Cache writes are input tokens too (billed a little higher); reads are the cached ones.
    fresh = c["input"] + c["cache_write"]
    return f"{fresh:,} input · {c['cache_read']:,} cached · {c['output']:,} output"
