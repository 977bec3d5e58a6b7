"""Build the Messages API request from a thread's history and the new question."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.models import FileRef, Turn

# Past 20 images in one request Claude caps every image at 2000 px (images from earlier
# turns count too); keeping the newest 20 keeps full resolution and never fails.
MAX_IMAGES = 20
DEFAULT_QUESTION = "Describe this and point out anything notable."
SYSTEM_PROMPT = (
    "You are a helpful assistant in a Slack workspace. People share screenshots, photos, "
    "charts and PDFs in a thread and ask about them. Answer concisely in Markdown that "
    "renders in Slack (short paragraphs, lists, code blocks; no tables wider than a phone). "
    "If the image does not show what is asked about, say so rather than guess."
)


def build_request(
    *,
    model: str,
    max_tokens: int,
    history: list[Turn],
    question: Turn,
    template_prompt: str | None = None,
    sources: Mapping[str, dict[str, Any]] | None = None,
    byte_budget: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `messages.stream`: the whole conversation with its media.

    `sources` maps a file's key to its `source` block when files travel inline (base64);
    without it, files are referenced by Files API id. `byte_budget` bounds the inline bytes.
    """
    turns = [*history, question]
    left_out = left_out_files(turns, byte_budget)
    messages = [
        _message(turn, left_out.get(i, set()), sources or {}) for i, turn in enumerate(turns)
    ]
    return {
        "model": model,
        "max_tokens": max_tokens,
        # The template is the system prompt, so the user's own words stay the question.
        "system": f"{SYSTEM_PROMPT}\n\n{template_prompt}" if template_prompt else SYSTEM_PROMPT,
        "messages": _merged(messages),
        # Caches the growing prefix, so follow-ups re-read the images' tokens cheaply.
        "cache_control": {"type": "ephemeral"},
    }


def left_out_files(turns: list[Turn], byte_budget: int | None = None) -> dict[int, set[int]]:
    """The oldest files past what one request may carry: file positions by turn index.

    The newest files are kept: at most MAX_IMAGES images and, when files travel inline,
    at most `byte_budget` bytes of base64.
    """
    left_out: dict[int, set[int]] = {}
    images = spent = 0
    newest_first = [
        (t, f, ref) for t, turn in enumerate(turns) for f, ref in enumerate(turn.files)
    ][::-1]
    for t, f, ref in newest_first:
        cost = _base64_size(ref.size) if byte_budget is not None and not ref.url else 0
        over_count = ref.kind == "image" and images >= MAX_IMAGES
        if over_count or (byte_budget is not None and spent + cost > byte_budget):
            left_out.setdefault(t, set()).add(f)
            continue
        images += ref.kind == "image"
        spent += cost
    return left_out


def _base64_size(size: int) -> int:
    return 4 * -(-size // 3)


def sent_images(turns: list[Turn], byte_budget: int | None = None) -> list[FileRef]:
    """The images a request carries, in the order Claude sees them."""
    left_out = left_out_files(turns, byte_budget)
    return [
        ref
        for t, turn in enumerate(turns)
        for f, ref in enumerate(turn.files)
        if ref.kind == "image" and f not in left_out.get(t, set())
    ]


def left_out_names(turns: list[Turn], byte_budget: int | None = None) -> list[str]:
    """Names of the files `left_out_files` leaves out, oldest first."""
    left_out = left_out_files(turns, byte_budget)
    return [turns[t].files[f].name for t in sorted(left_out) for f in sorted(left_out[t])]


def _message(
    turn: Turn, left_out: set[int], sources: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    if turn.role == "assistant":
        return {"role": "assistant", "content": [{"type": "text", "text": turn.text or "…"}]}
    # Images before the text that asks about them, as Anthropic's vision guide advises.
    blocks: list[dict[str, Any]] = [
        _file_block(ref, sources) for i, ref in enumerate(turn.files) if i not in left_out
    ]
    dropped = [ref.name for i, ref in enumerate(turn.files) if i in left_out]
    if dropped:
        blocks.append({"type": "text", "text": _left_out_note(dropped)})
    blocks.append({"type": "text", "text": turn.text or DEFAULT_QUESTION})
    return {"role": "user", "content": blocks}


def _left_out_note(names: list[str]) -> str:
    return (
        f"[Left out of this request to stay within its limits: "
        f"{', '.join(names)}. Say so if the question needs them.]"
    )


def _file_block(ref: FileRef, sources: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    if ref.url:
        # A public link: Claude fetches it; the bot never does (no SSRF through the bot).
        return {"type": "image", "source": {"type": "url", "url": ref.url}}
    source = sources.get(ref.sha256) or {"type": "file", "file_id": ref.claude_file_id}
    return {"type": ref.kind, "source": source}


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive same-role messages: the API wants user and assistant to alternate."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = [*merged[-1]["content"], *message["content"]]
        else:
            merged.append(message)
    return merged
