"""Slack listeners: they translate Slack's events into calls on the bot's pipeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_bolt.async_app import AsyncApp

from handlers import events

if TYPE_CHECKING:
    from bot.app import Services


def register_all(app: AsyncApp, services: Services) -> None:
    """Register every listener on `app`."""
    events.register(app, services.intake)
