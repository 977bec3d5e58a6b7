"""Build the Messages API request from a thread's history and the new question."""

from __future__ import annotations

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
) -> dict[str, Any]:
    """Keyword arguments for `messages.stream`: the whole conversation, images by file id."""
    turns = [*history, question]
    left_out = left_out_images(turns)
    messages = [_message(turn, left_out.get(i, set())) for i, turn in enumerate(turns)]
    return {
        "model": model,
        "max_tokens": max_tokens,
        # The template is the system prompt, so the user's own words stay the question.
        "system": f"{SYSTEM_PROMPT}\n\n{template_prompt}" if template_prompt else SYSTEM_PROMPT,
        "messages": _merged(messages),
        # Caches the growing prefix, so follow-ups re-read the images' tokens cheaply.
        "cache_control": {"type": "ephemeral"},
    }


def left_out_images(turns: list[Turn]) -> dict[int, set[int]]:
    """The oldest images past what one request may carry: file positions by turn index."""
    images = [
        (t, f)
        for t, turn in enumerate(turns)
        for f, ref in enumerate(turn.files)
        if ref.kind == "image"
    ]
    left_out: dict[int, set[int]] = {}
    for t, f in images[: max(0, len(images) - MAX_IMAGES)]:
        left_out.setdefault(t, set()).add(f)
    return left_out


def sent_images(turns: list[Turn]) -> list[FileRef]:
    """The images a request carries, in the order Claude sees them."""
    left_out = left_out_images(turns)
    return [
        ref
        for t, turn in enumerate(turns)
        for f, ref in enumerate(turn.files)
        if ref.kind == "image" and f not in left_out.get(t, set())
    ]


def left_out_names(turns: list[Turn]) -> list[str]:
    """Names of the images `left_out_images` leaves out, oldest first."""
    left_out = left_out_images(turns)
    return [turns[t].files[f].name for t in sorted(left_out) for f in sorted(left_out[t])]


def _message(turn: Turn, left_out: set[int]) -> dict[str, Any]:
    if turn.role == "assistant":
        return {"role": "assistant", "content": [{"type": "text", "text": turn.text or "…"}]}
    # Images before the text that asks about them, as Anthropic's vision guide advises.
    blocks: list[dict[str, Any]] = [
        _file_block(ref) for i, ref in enumerate(turn.files) if i not in left_out
    ]
    dropped = [ref.name for i, ref in enumerate(turn.files) if i in left_out]
    if dropped:
        blocks.append({"type": "text", "text": _left_out_note(dropped)})
    blocks.append({"type": "text", "text": turn.text or DEFAULT_QUESTION})
    return {"role": "user", "content": blocks}


def _left_out_note(names: list[str]) -> str:
    return (
        f"[Left out of this request to stay within {MAX_IMAGES} images: "
        f"{', '.join(names)}. Say so if the question needs them.]"
    )


def _file_block(ref: FileRef) -> dict[str, Any]:
    return {"type": ref.kind, "source": {"type": "file", "file_id": ref.claude_file_id}}


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive same-role messages: the API wants user and assistant to alternate."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = [*merged[-1]["content"], *message["content"]]
        else:
            merged.append(message)
    return merged


def file_ids(request: dict[str, Any]) -> set[str]:
    """Every Files API id a request refers to."""
    return {
        block["source"]["file_id"]
        for message in request["messages"]
        for block in message["content"]
        if block.get("source", {}).get("type") == "file"
    }
