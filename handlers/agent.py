"""The agent messaging experience's context events: what the person is looking at."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.agent.surfaces import AgentSurfaces
from handlers.identity import identity


def register(app: AsyncApp, agent: AgentSurfaces) -> None:
    """Listen to app_context_changed (the Messages tab itself is opened in handlers.home)."""

    @app.event("app_context_changed")
    async def on_context_changed(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("user"):
            await agent.context_changed(
                identity(context).team_id, event["user"], event.get("context") or {}
            )
