"""The app's tabs: `app_home_opened`, dispatched on which tab was opened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.agent.surfaces import AgentSurfaces
from bot.governance.home import HomeTab
from handlers.identity import identity

OnTab = Callable[[dict[str, Any], AsyncBoltContext], Awaitable[None]]


def register(app: AsyncApp, home: HomeTab, agent: AgentSurfaces) -> None:
    """Publish the Home tab when someone opens it; offer suggested prompts on the Messages tab."""

    async def on_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await home.publish(identity(context).team_id, event["user"])

    async def on_messages(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if event.get("channel") and event.get("user"):
            await agent.messages_tab_opened(
                identity(context).team_id, event["user"], event["channel"], event.get("context")
            )

    tabs: dict[str, OnTab] = {"home": on_home, "messages": on_messages}

    async def acknowledge() -> None:
        return None  # an event: Bolt acknowledges it; the tab is drawn after that

    async def on_app_home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if (on_tab := tabs.get(str(event.get("tab")))) is not None:
            await on_tab(event, context)

    # Lazily: users.info, views.publish and setSuggestedPrompts don't hold up Slack's ack.
    app.event("app_home_opened")(ack=acknowledge, lazy=[on_app_home_opened])
