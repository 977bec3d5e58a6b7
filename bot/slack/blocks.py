"""Block Kit under answers (template select, feedback buttons) and the shortcut's modal."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.models.blocks import (
    ContextActionsBlock,
    FeedbackButtonObject,
    FeedbackButtonsElement,
)

TEMPLATE_SELECT = "vision_template"  # action_id of the select under an answer
SHORTCUT = "ask_claude"  # callback_id of the message shortcut
MODAL = "ask_claude_modal"  # callback_id of the shortcut's modal
MODAL_TEMPLATE_BLOCK, MODAL_TEMPLATE_ACTION = "template", "choice"
MODAL_QUESTION_BLOCK, MODAL_QUESTION_ACTION = "question", "text"
PRIVATE_METADATA_LIMIT = 3000  # characters Slack keeps of a view's private_metadata
FEEDBACK = "vision_feedback"  # action_id of the feedback buttons under an answer
# block_id prefix of the template select a thumbs-down offers privately: an ephemeral
# message's block_actions carry no `message`, so the block names the thread to answer in.
REDO_OFFER = "vision_redo"
VERDICTS = ("positive", "negative")
REDO_OFFER_TEXT = "Sorry that missed. Want me to answer again with another template?"


class Named(Protocol):
    """Anything offered in a template menu: it only needs a name."""

    @property
    def name(self) -> str:
        """The name shown and sent back as the option's value."""
        ...


def _options(templates: Iterable[Named]) -> list[dict[str, Any]]:
    # Slack caps a select at 100 options and option text at 75 characters.
    return [_option(t.name) for t in list(templates)[:100]]


def _option(name: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": name[:75]}, "value": name}


def _select(templates: Iterable[Named], current: str, action_id: str) -> dict[str, Any]:
    """A static select of the templates, on `current` if it is one of its options."""
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": {"type": "plain_text", "text": "Template"},
        "options": _options(templates),
    }
    # Slack refuses the whole message or modal if initial_option isn't among the options.
    if any(option["value"] == current for option in select["options"]):
        select["initial_option"] = _option(current)
    return select


def template_select(templates: Iterable[Named], current: str) -> list[dict[str, Any]]:
    """Blocks for the bot's first answer in a thread: "Template: debug ▾"."""
    return [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Answer again with another template:"}],
        },
        {
            "type": "actions",
            "elements": [_select(templates, current, TEMPLATE_SELECT)],
        },
    ]


def feedback_buttons(template: str) -> list[dict[str, Any]]:
    """The thumbs up/down row under a finished answer; the values name verdict and template."""
    # slack_sdk's models check Slack's limits (5 elements, 75-character texts, 2000 values).
    buttons = FeedbackButtonsElement(
        action_id=FEEDBACK,
        positive_button=_feedback("👍", "positive", template, "This answer helped"),
        negative_button=_feedback("👎", "negative", template, "This answer missed"),
    )
    return [ContextActionsBlock(elements=[buttons]).to_dict()]


def _feedback(emoji: str, verdict: str, template: str, label: str) -> FeedbackButtonObject:
    return FeedbackButtonObject(
        text=emoji, value=f"{verdict}:{template}", accessibility_label=label
    )


def feedback_verdict(value: str) -> tuple[str, str] | None:
    """(verdict, template) from a feedback button's value; None if it is not one of ours."""
    verdict, _, template = value.partition(":")
    return (verdict, template) if verdict in VERDICTS and template else None


def redo_offer(templates: Iterable[Named], current: str, thread_ts: str) -> list[dict[str, Any]]:
    """What a thumbs-down gets, privately: the other templates, to answer again with one."""
    others = [t for t in templates if t.name != current]
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": REDO_OFFER_TEXT},
        },
        {
            "type": "actions",
            "block_id": f"{REDO_OFFER}:{thread_ts}",
            "elements": [_select(others, "", TEMPLATE_SELECT)],
        },
    ]


def offered_thread(block_id: str | None) -> str | None:
    """The thread a redo offer's select answers in (see redo_offer), else None."""
    prefix, _, thread_ts = (block_id or "").partition(":")
    return thread_ts if prefix == REDO_OFFER and thread_ts else None


def shortcut_modal(
    templates: Iterable[Named],
    current: str,
    *,
    channel_id: str,
    message: dict[str, Any],
    response_url: str = "",
) -> dict[str, Any]:
    """The "Ask Claude about this…" modal for one message."""
    return {
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "Ask Claude"},
        "submit": {"type": "plain_text", "text": "Ask"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": _metadata(channel_id, message, response_url),
        "blocks": [
            {
                "type": "input",
                "block_id": MODAL_TEMPLATE_BLOCK,
                "label": {"type": "plain_text", "text": "Template"},
                "element": _select(templates, current, MODAL_TEMPLATE_ACTION),
            },
            {
                "type": "input",
                "block_id": MODAL_QUESTION_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Question"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": MODAL_QUESTION_ACTION,
                    "multiline": True,
                    "placeholder": {"type": "plain_text", "text": "Leave empty for the default"},
                },
            },
        ],
    }


def _metadata(channel_id: str, message: dict[str, Any], response_url: str) -> str:
    """What the modal's submission needs of the message, its text cut to fit Slack's limit."""
    metadata = {
        "channel": channel_id,
        "ts": message["ts"],
        "thread_ts": message.get("thread_ts") or message["ts"],
        "files": [f["id"] for f in message.get("files", []) if f.get("id")],
        "response_url": response_url,  # tells the user privately if the thread is closed
        "text": "",
    }
    # ASCII-only JSON: within the limit whether Slack counts characters or bytes.
    room = PRIVATE_METADATA_LIMIT - len(json.dumps(metadata))
    metadata["text"] = _cut(str(message.get("text") or ""), room)
    return json.dumps(metadata)


def _cut(text: str, room: int) -> str:
    """`text`, or as much of it as fits in `room` characters of JSON, marked as cut."""
    if len(json.dumps(text)) - 2 <= room:
        return text
    room -= len(json.dumps("…")) - 2
    used = 0
    for index, char in enumerate(text):
        used += len(json.dumps(char)) - 2  # escapes take up to 12 characters
        if used > room:
            return text[:index] + "…"
    return text


@dataclass(frozen=True)
class ModalSubmission:
    """What the shortcut's modal was submitted with, and the message it asks about."""

    channel_id: str
    message_ts: str
    thread_ts: str
    file_ids: list[str]
    template: str | None
    question: str
    message_text: str = ""
    response_url: str = ""


def read_modal(view: dict[str, Any]) -> ModalSubmission | None:
    """The submission, or None for a modal this version can't read (another version's)."""
    try:
        metadata = json.loads(view["private_metadata"])
        values = view["state"]["values"]
        choice = values[MODAL_TEMPLATE_BLOCK][MODAL_TEMPLATE_ACTION]
        question = values[MODAL_QUESTION_BLOCK][MODAL_QUESTION_ACTION]
        files = metadata["files"]
        submission = ModalSubmission(
            channel_id=str(metadata["channel"]),
            message_ts=str(metadata["ts"]),
            thread_ts=str(metadata["thread_ts"]),
            file_ids=[str(f) for f in files],
            template=(choice.get("selected_option") or {}).get("value"),
            question=str(question.get("value") or ""),
            message_text=str(metadata.get("text") or ""),  # none in older versions' modals
            response_url=str(metadata.get("response_url") or ""),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return submission


def outdated_modal() -> dict[str, Any]:
    """What a modal this version can't read turns into: why, and what to do."""
    return {
        "type": "modal",
        "callback_id": f"{MODAL}_outdated",
        "title": {"type": "plain_text", "text": "Ask Claude"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "This form was opened before the bot was updated, and I can't "
                    "read it any more. Close it and choose *Ask Claude about this…* on the "
                    "message again.",
                },
            }
        ],
    }
