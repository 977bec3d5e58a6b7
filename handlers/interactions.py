"""Interactivity: the template select under an answer, the message shortcut and its modal."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake import Intake
from bot.slack import blocks
from bot.templates import Templates
from handlers.identity import identity


def register(app: AsyncApp, intake: Intake, templates: Templates) -> None:
    """Listen to the select, the shortcut and the modal's submission."""

    @app.action(blocks.TEMPLATE_SELECT)
    async def on_template_chosen(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        container, message = body.get("container", {}), body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts", "")
        # The menu a thumbs-down offers is ephemeral: its block names the thread instead.
        offered = blocks.offered_thread(body["actions"][0].get("block_id"))
        thread_ts = container.get("thread_ts") or message.get("thread_ts") or offered
        if container.get("is_ephemeral") and thread_ts:
            message_ts = thread_ts  # an ephemeral message takes no reactions: the thread's does
        await intake.offer_redo(
            identity(context),
            channel_id=container.get("channel_id") or body["channel"]["id"],
            thread_ts=thread_ts or message_ts,
            message_ts=message_ts,
            user_id=body["user"]["id"],
            template=body["actions"][0]["selected_option"]["value"],
            action_ts=body["actions"][0].get("action_ts") or message_ts,
        )

    @app.shortcut(blocks.SHORTCUT)
    async def on_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        channel_id, message = body["channel"]["id"], body["message"]
        thread_ts = message.get("thread_ts") or message["ts"]
        chosen = await intake.template_for(
            identity(context), channel_id=channel_id, thread_ts=thread_ts
        )
        current = templates.get(chosen)  # may name a template TEMPLATES_FILE no longer has
        view = blocks.shortcut_modal(
            templates,
            current.name,
            channel_id=channel_id,
            message=message,
            response_url=body.get("response_url", ""),
        )
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.view(blocks.MODAL)
    async def on_modal_submitted(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await ack()
        view = body["view"]
        metadata = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        choice = values[blocks.MODAL_TEMPLATE_BLOCK][blocks.MODAL_TEMPLATE_ACTION]
        question = values[blocks.MODAL_QUESTION_BLOCK][blocks.MODAL_QUESTION_ACTION]
        chosen = (choice.get("selected_option") or {}).get("value")
        await intake.offer_shortcut(
            identity(context),
            view_id=view["id"],
            channel_id=metadata["channel"],
            message_ts=metadata["ts"],
            thread_ts=metadata["thread_ts"],
            user_id=body["user"]["id"],
            file_ids=metadata["files"],
            template=chosen,
            question=question.get("value") or "",
            message_text=metadata.get("text", ""),  # none in modals an older version opened
            response_url=metadata.get("response_url", ""),
            default_question=templates.get(chosen).question,
        )
