"""Slack listeners: they translate Slack's events into calls on the bot's pipeline."""

from __future__ import annotations

from typing import Protocol

from slack_bolt.async_app import AsyncApp

from bot.agent.feedback import Feedback
from bot.agent.surfaces import AgentSurfaces
from bot.commands import VisionCommand
from bot.governance.home import HomeTab
from bot.intake import Intake
from bot.metrics import Metrics
from bot.templates import Templates
from handlers import agent, commands, events, feedback, home, interactions


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
    def home(self) -> HomeTab:
        """Draws the app's Home tab."""
        ...

    @property
    def agent(self) -> AgentSurfaces:
        """The agent messaging experience: Messages tab prompts, the viewed context."""
        ...

    @property
    def feedback(self) -> Feedback:
        """Counts the feedback buttons' clicks."""
        ...

    @property
    def metrics(self) -> Metrics:
        """The process's counters."""
        ...


def register_all(app: AsyncApp, services: Listened) -> None:
    """Register every listener on `app`."""
    events.register(app, services.intake, services.agent, services.metrics)
    commands.register(app, services.command)
    interactions.register(app, services.intake, services.templates)
    home.register(app, services.home, services.agent)
    agent.register(app, services.agent)
    feedback.register(app, services.feedback)
