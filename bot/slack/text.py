"""Slack message text as the bot reads it."""

from __future__ import annotations

import re
from urllib.parse import urlsplit


def strip_mentions(text: str, bot_user_id: str | None) -> str:
    """The question as written: without the bot's own `<@U…>` mention, Slack's escapes undone."""
    if bot_user_id:
        # Only the mention and the space before it go: indentation in code stays.
        text = re.sub(rf"[ \t]?<@{re.escape(bot_user_id)}(\|[^>]*)?>", "", text)
    return unescape(text).strip()


def unescape(text: str) -> str:
    """Undo the three escapes Slack applies to message text."""
    # `&amp;` last, so a literal "&lt;" (sent as `&amp;lt;`) stays "&lt;".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


_LINK = re.compile(r"<(https://[^|>\s]+)(?:\|[^>]*)?>")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_LINKS = 5


def image_links(text: str, attachments: list[dict[str, object]] | None = None) -> list[str]:
    """Public https links to images in a message: in its text or its unfurls."""
    found = [unescape(m.group(1)) for m in _LINK.finditer(text)]
    found = [url for url in found if urlsplit(url).path.lower().endswith(_IMAGE_SUFFIXES)]
    for attachment in attachments or []:
        url = attachment.get("image_url")
        if isinstance(url, str) and url.startswith("https://"):
            found.append(url)
    return list(dict.fromkeys(found))[:MAX_LINKS]
