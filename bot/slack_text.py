"""Slack message text as the bot reads it."""

from __future__ import annotations

import re


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The question without the bot's own `<@U…>` mention."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()
