"""The app's tabs: `app_home_opened`, dispatched on which tab was opened."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.home import HomeTab
from handlers.identity import identity

OnTab = Callable[[dict[str, Any], AsyncBoltContext], Awaitable[None]]


def register(app: AsyncApp, home: HomeTab) -> None:
    """Publish the Home tab when someone opens it; the Messages tab needs nothing yet."""

    async def on_home(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await home.publish(identity(context).team_id, event["user"])

    async def on_messages(event: dict[str, Any], context: AsyncBoltContext) -> None:
        return None  # the DM with the bot: every message there is answered as it comes

    tabs: dict[str, OnTab] = {"home": on_home, "messages": on_messages}

    async def acknowledge() -> None:
        return None  # an event: Bolt acknowledges it; the tab is drawn after that

    async def on_app_home_opened(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if (on_tab := tabs.get(str(event.get("tab")))) is not None:
            await on_tab(event, context)

    # Lazily: users.info and views.publish don't hold up Slack's acknowledgement.
    app.event("app_home_opened")(ack=acknowledge, lazy=[on_app_home_opened])
