"""The agent messaging experience's events: the Messages tab opened, the viewed context."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.agent import AgentSurfaces
from handlers.identity import identity


def register(app: AsyncApp, agent: AgentSurfaces) -> None:
    """Listen to app_home_opened (per tab) and app_context_changed."""

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        # One event for every tab of the app's home: dispatch on it.
        if event.get("tab") == "messages" and event.get("channel") and event.get("user"):
            await agent.messages_tab_opened(
                identity(context).team_id, event["user"], event["channel"], event.get("context")
            )
        # tab == "home": the Home tab's view is published here (not built yet).

    @app.event("app_context_changed")
    async def on_context_changed(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("user"):
            await agent.context_changed(
                identity(context).team_id, event["user"], event.get("context") or {}
            )
