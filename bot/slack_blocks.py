"""Block Kit for choosing a template: the select under an answer and the shortcut's modal."""

from __future__ import annotations

import json
from typing import Any

from bot.templates import Templates

TEMPLATE_SELECT = "vision_template"  # action_id of the select under an answer
SHORTCUT = "ask_claude"  # callback_id of the message shortcut
MODAL = "ask_claude_modal"  # callback_id of the shortcut's modal
MODAL_TEMPLATE_BLOCK, MODAL_TEMPLATE_ACTION = "template", "choice"
MODAL_QUESTION_BLOCK, MODAL_QUESTION_ACTION = "question", "text"


def _options(templates: Templates) -> list[dict[str, Any]]:
    # Slack caps a select at 100 options and option text at 75 characters.
    return [_option(t.name) for t in list(templates)[:100]]


def _option(name: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": name[:75]}, "value": name}


def template_select(templates: Templates, current: str) -> list[dict[str, Any]]:
    """Blocks for the bot's first answer in a thread: "Template: debug ▾"."""
    return [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Answer again with another template:"}],
        },
        {
            "type": "actions",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": TEMPLATE_SELECT,
                    "placeholder": {"type": "plain_text", "text": "Template"},
                    "initial_option": _option(current),
                    "options": _options(templates),
                }
            ],
        },
    ]


def shortcut_modal(
    templates: Templates, current: str, *, channel_id: str, message: dict[str, Any]
) -> dict[str, Any]:
    """The "Ask Claude about this…" modal for one message."""
    metadata = {
        "channel": channel_id,
        "ts": message["ts"],
        "thread_ts": message.get("thread_ts") or message["ts"],
        "files": [f["id"] for f in message.get("files", []) if f.get("id")],
    }
    return {
        "type": "modal",
        "callback_id": MODAL,
        "title": {"type": "plain_text", "text": "Ask Claude"},
        "submit": {"type": "plain_text", "text": "Ask"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {
                "type": "input",
                "block_id": MODAL_TEMPLATE_BLOCK,
                "label": {"type": "plain_text", "text": "Template"},
                "element": {
                    "type": "static_select",
                    "action_id": MODAL_TEMPLATE_ACTION,
                    "initial_option": _option(current),
                    "options": _options(templates),
                },
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
