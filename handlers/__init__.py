"""Slack listeners: they translate Slack's events into calls on the bot's pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from bot.commands import VisionCommand
from handlers import commands, events, interactions

if TYPE_CHECKING:
    from bot.app import Services


def register_all(app: AsyncApp, services: Services) -> None:
    """Register every listener on `app`."""
    events.register(app, services.intake)
    command = VisionCommand(
        services.settings.slash_command, services.templates, services.channels, services.usage
    )
    commands.register(app, command)
    interactions.register(app, services.intake, services.templates)
