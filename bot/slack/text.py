"""Slack message text as the bot reads it, and as it writes it without notifying anyone."""

from __future__ import annotations

import json
import re
from typing import Any
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


# What makes Slack notify people: its markup for special, group and user mentions (the
# label after `|` is what it shows), and the bare words it links under `link_names`.
_MENTION = re.compile(
    r"<(?P<kind>!(?:here|channel|everyone|group)|!subteam\^|@)(?P<id>[^<>|]*)"
    r"(?:\|(?P<label>[^<>]*))?>",
    re.IGNORECASE,
)
_BARE_MENTION = re.compile(r"(?<![\w\u2060])@(here|channel|everyone)\b", re.IGNORECASE)
# The end of a streamed piece that more text could still turn into a mention.
_UNFINISHED = re.compile(r"(?:<[!@][^<>\n]*|<|@\w{0,8})\Z")
WORD_JOINER = "\u2060"  # invisible; keeps "@here" from reading as the mention


def inert(text: str) -> str:
    """`text` as a reader sees it, with nothing in it that notifies anyone."""
    # One form for every field the bot writes (markdown_text, streamed text, mrkdwn in
    # blocks and `text`): no `<`, `>` or `&` entity, so no field can read it as markup.
    return _BARE_MENTION.sub(rf"@{WORD_JOINER}\1", _MENTION.sub(_shown, text))


def _shown(match: re.Match[str]) -> str:
    kind, target, label = match.group("kind", "id", "label")
    if label:
        name = label.lstrip("@")
    elif kind.startswith("!") and kind != "!subteam^":
        name = kind[1:]
    else:
        name = target
    return f"@{WORD_JOINER}{name}"


def inert_stream(text: str, *, final: bool) -> tuple[str, str]:
    """What of streamed `text` can go out now, made inert, and the end held for more."""
    # Held: an unclosed `<!…`, `<@…` or `<`, or a trailing `@word` ("@chan" + "nel").
    if not final and (unfinished := _UNFINISHED.search(text)):
        return inert(text[: unfinished.start()]), text[unfinished.start() :]
    return inert(text), ""


def inert_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Block Kit with the text of every text object and markdown block made inert."""
    return [_inert_value(block) for block in blocks]


def _inert_value(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _inert_value(v) for k, v in value.items()}
        if value.get("type") in ("mrkdwn", "plain_text", "markdown") and isinstance(
            value.get("text"), str
        ):
            out["text"] = inert(value["text"])
        return out
    if isinstance(value, list):
        return [_inert_value(v) for v in value]
    return value


def encodable(value: Any) -> Any:
    """`value` (a payload, a list, a string) with lone surrogates made U+FFFD."""
    # Slack's JSON may escape half of a UTF-16 pair (a cut emoji): Python reads it as a lone
    # surrogate, which no UTF-8 encoder (pydantic's, Redis's, aiohttp's) will write.
    try:
        # Nearly always so: one pass in C, instead of a Python call per string (before the ack).
        json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except (UnicodeEncodeError, TypeError, ValueError):
        return _encodable(value)  # a lone surrogate (or no JSON at all): walk it


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encodable(v) for v in value]
    return value
