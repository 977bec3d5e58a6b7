"""Slack listeners: they translate Slack's events into calls on the bot's pipeline."""

from __future__ import annotations

from typing import Protocol

from slack_bolt.async_app import AsyncApp

from bot.commands import VisionCommand
from bot.intake import Intake
from bot.metrics import Metrics
from bot.templates import Templates
from handlers import commands, events, interactions


class Listened(Protocol):
    """What the listeners hand Slack's requests to (the process's services provide it)."""

    @property
    def intake(self) -> Intake:
        """Decides what to answer and queues it."""
        ...

    @property
    def command(self) -> VisionCommand:
        """Runs the slash command."""
        ...

    @property
    def templates(self) -> Templates:
        """The loaded templates, for menus and modals."""
        ...

    @property
    def metrics(self) -> Metrics:
        """The process's counters."""
        ...


def register_all(app: AsyncApp, services: Listened) -> None:
    """Register every listener on `app`."""
    events.register(app, services.intake, services.metrics)
    commands.register(app, services.command)
    interactions.register(app, services.intake, services.templates)
