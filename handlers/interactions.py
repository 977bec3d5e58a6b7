"""Interactivity: the template select under an answer, the message shortcut and its modal."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intake import Intake
from bot.outage import CANT_ANSWER_NOW
from bot.slack import blocks
from bot.slack.notes import Notes
from bot.store.connection import is_unreachable
from bot.templates import Templates
from handlers.identity import identity

logger = logging.getLogger(__name__)


def register(app: AsyncApp, intake: Intake, templates: Templates) -> None:
    """Listen to the select, the shortcut and the modal's submission."""

    @app.action(blocks.TEMPLATE_SELECT)
    async def on_template_chosen(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        container, message = body.get("container", {}), body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts", "")
        # The menu a thumbs-down offers is ephemeral: its block names the thread instead.
        offered = blocks.offered_thread(body["actions"][0].get("block_id"))
        thread_ts = container.get("thread_ts") or message.get("thread_ts") or offered
        if container.get("is_ephemeral") and thread_ts:
            message_ts = thread_ts  # an ephemeral message takes no reactions: the thread's does
        channel_id = container.get("channel_id") or body["channel"]["id"]
        try:
            await intake.offer_redo(
                identity(context),
                channel_id=channel_id,
                thread_ts=thread_ts or message_ts,
                message_ts=message_ts,
                user_id=body["user"]["id"],
                template=body["actions"][0]["selected_option"]["value"],
                action_ts=body["actions"][0].get("action_ts") or message_ts,
            )
        except Exception as exc:
            await _tell_if_unreachable(
                exc, client, channel_id, body["user"]["id"], thread_ts or message_ts
            )

    @app.shortcut(blocks.SHORTCUT)
    async def on_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        channel_id, message = body["channel"]["id"], body["message"]
        thread_ts = message.get("thread_ts") or message["ts"]
        try:
            chosen = await intake.template_for(
                identity(context), channel_id=channel_id, thread_ts=thread_ts
            )
        except Exception as exc:
            # No modal: its question could not be queued either.
            await _tell_if_unreachable(exc, client, channel_id, body["user"]["id"], thread_ts)
            return
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
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        view = body["view"]
        submitted = blocks.read_modal(view)
        if submitted is None:
            # Opened by another version of the bot (other block ids or metadata): say so in
            # the modal rather than guess what was asked, or fail after the ack.
            logger.warning("a modal this version can't read was submitted: view %s", view["id"])
            await ack(response_action="update", view=blocks.outdated_modal())
            return
        await ack()
        chosen = submitted.template
        try:
            await intake.offer_shortcut(
                identity(context),
                view_id=view["id"],
                channel_id=submitted.channel_id,
                message_ts=submitted.message_ts,
                thread_ts=submitted.thread_ts,
                user_id=body["user"]["id"],
                file_ids=submitted.file_ids,
                template=chosen,
                question=submitted.question,
                message_text=submitted.message_text,
                response_url=submitted.response_url,
                default_question=templates.get(chosen).question,
            )
        except Exception as exc:
            await _tell_if_unreachable(
                exc, client, submitted.channel_id, body["user"]["id"], submitted.thread_ts
            )


async def _tell_if_unreachable(
    exc: Exception, client: AsyncWebClient, channel_id: str, user_id: str, thread_ts: str
) -> None:
    """Tell the person privately that Redis is out of reach; re-raise anything else."""
    # Acknowledged already: without this the click or the submission would do nothing.
    if not is_unreachable(exc):
        raise exc
    logger.warning("Redis unreachable: told %s in %s to try again", user_id, channel_id)
    await Notes(client).to_person(channel_id, user_id, thread_ts, CANT_ANSWER_NOW)
