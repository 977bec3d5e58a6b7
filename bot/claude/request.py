"""Build the Messages API request from a thread's history and the new question."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from bot.claude import window
from bot.media.prepare import MAX_PDF_PAGES
from bot.models import FileRef, Turn

# Past 20 images in one request Claude caps every image at 2000 px (images from earlier
# turns count too); keeping the newest 20 keeps full resolution and never fails.
MAX_IMAGES = 20
# A long thread keeps its first exchange (usually the screenshot and the first answer) and
# its latest messages; the middle is dropped in steps, so the cached prefix stays put
# between steps.
MAX_MESSAGES = 40
TRIM_STEP = 10  # even, so user and assistant keep alternating
DEFAULT_QUESTION = "Describe this and point out anything notable."
DOCUMENT_TITLE_LIMIT = 255
SYSTEM_PROMPT = (
    "You are a helpful assistant in a Slack workspace. People share screenshots, photos, "
    "charts and PDFs in a thread and ask about them. Answer concisely in Markdown that "
    "renders in Slack (short paragraphs, lists, code blocks; no tables wider than a phone). "
    "If the image does not show what is asked about, say so rather than guess."
)


@dataclass(frozen=True)
class Plan:
    """What one request carries: the turns kept, and the files left out of them."""

    turns: list[Turn]
    left_out: dict[int, set[int]]  # file positions by turn index
    dropped_messages: int = 0
    oldest_dropped: int = 0  # messages cut from the start to fit the context window

    def sent_files(self) -> list[FileRef]:
        """Every file the request carries, in the order Claude sees them."""
        return [
            ref
            for t, turn in enumerate(self.turns)
            for f, ref in enumerate(turn.files)
            if f not in self.left_out.get(t, set())
        ]

    def inline_bytes(self) -> int:
        """The base64 bytes the request carries on the inline transport (each file once)."""
        sizes = {r.sha256: base64_size(r.size) for r in self.sent_files() if not r.url}
        return sum(sizes.values())

    def sent_images(self) -> list[FileRef]:
        """The images the request carries, numbered as Claude sees them."""
        return [ref for ref in self.sent_files() if ref.kind == "image"]

    def tokens(self) -> int:
        """What the planned messages take, estimated (the system prompt not included)."""
        return window.plan_tokens(self.turns, self.left_out)

    def left_out_names(self) -> list[str]:
        """Names of the files left out, oldest first (a long image's parts: once)."""
        names = [
            self.turns[t].files[f].name
            for t in sorted(self.left_out)
            for f in sorted(self.left_out[t])
        ]
        return list(dict.fromkeys(names))


def plan(
    history: list[Turn],
    question: Turn,
    byte_budget: int | None = None,
    token_budget: int | None = None,
) -> Plan:
    """Fit the conversation into one request's message, image, byte and token limits."""
    # At most MAX_MESSAGES messages and MAX_IMAGES images, and when files travel inline,
    # `byte_budget` bytes of base64; its messages within `token_budget` tokens (estimated).
    turns = [*history, question]
    dropped = 0
    if len(turns) > MAX_MESSAGES:
        excess = len(turns) - MAX_MESSAGES
        dropped = -(-excess // TRIM_STEP) * TRIM_STEP
        first_recent = turns[2 + dropped]
        note = f"[{dropped} earlier messages of this thread are left out of this request.]\n\n"
        turns = [
            *turns[:2],
            first_recent.model_copy(update={"text": note + first_recent.text}),
            *turns[3 + dropped :],
        ]
    left_out = _left_out_files(turns, byte_budget)
    if token_budget is None:
        return Plan(turns, left_out, dropped)
    fitted, left_out, cut = window.fit(turns, left_out, token_budget, TRIM_STEP)
    if cut:
        unsent = len(history) + 1 - len(fitted)
        note = f"[{unsent} earlier messages of this thread are left out of this request.]\n\n"
        fitted[0] = fitted[0].model_copy(update={"text": note + fitted[0].text})
    return Plan(fitted, left_out, dropped, cut)


def build_request(
    *,
    model: str,
    max_tokens: int,
    plan: Plan,
    template_prompt: str | None = None,
    sources: Mapping[str, dict[str, Any]] | None = None,
    label_images: bool = False,
    automatic_cache: bool = True,
    citations: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for `messages.stream`: the planned conversation with its media."""
    # `sources` maps a file's SHA-256 to its `source` block when files travel inline
    # (base64); without it, files are referenced by Files API id. `label_images` puts
    # "Image N:" before each image, numbered as `Plan.sent_images` numbers them. Without
    # `automatic_cache` (Bedrock, Vertex) the cache breakpoint goes on the last block. With
    # `citations`, PDFs ask for page citations (on every document: the API takes all or none).
    labels = itertools.count(1) if label_images else None
    how = _Blocks(sources or {}, labels, citations)
    messages = [
        _message(turn, plan.left_out.get(i, set()), how) for i, turn in enumerate(plan.turns)
    ]
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": max_tokens,
        # The template is the system prompt, so the user's own words stay the question.
        "system": system_prompt(template_prompt),
        "messages": _merged(messages),
    }
    # Caches the growing prefix, so follow-ups re-read the images' tokens cheaply. The
    # top-level form is the Claude API's; a block breakpoint works on every platform.
    if automatic_cache:
        request["cache_control"] = {"type": "ephemeral"}
    else:
        request["messages"][-1]["content"][-1]["cache_control"] = {"type": "ephemeral"}
    return request


def system_prompt(template_prompt: str | None) -> str:
    """The request's system prompt: the bot's, then the template's."""
    return f"{SYSTEM_PROMPT}\n\n{template_prompt}" if template_prompt else SYSTEM_PROMPT


def _left_out_files(turns: list[Turn], byte_budget: int | None) -> dict[int, set[int]]:
    """The oldest files past the image count, the PDF page limit or the inline byte budget."""
    # The parts of a long image go together or stay out together: half a page misleads.
    left_out: dict[int, set[int]] = {}
    images = pages = spent = 0
    images_full = False  # once the newest images fill the count, older ones stay out
    for t, group in reversed(_file_groups(turns)):
        refs = [turns[t].files[f] for f in group]
        inline = byte_budget is not None
        cost = sum(base64_size(r.size) for r in refs if not r.url) if inline else 0
        count = sum(r.kind == "image" for r in refs)
        size = sum(r.pages or 0 for r in refs)
        images_full = images_full or (count > 0 and images + count > MAX_IMAGES)
        over_count = count > 0 and images_full
        over_pages = pages + size > MAX_PDF_PAGES
        if over_count or over_pages or (inline and spent + cost > (byte_budget or 0)):
            left_out.setdefault(t, set()).update(group)
            continue
        images, pages, spent = images + count, pages + size, spent + cost
    return left_out


def _file_groups(turns: list[Turn]) -> list[tuple[int, list[int]]]:
    """Each turn's files as (turn, positions), oldest first; a long image's parts as one."""
    groups: list[tuple[int, list[int]]] = []
    for t, turn in enumerate(turns):
        for f, ref in enumerate(turn.files):
            if f and ref.same_file(turn.files[f - 1]) and groups[-1][0] == t:
                groups[-1][1].append(f)
            else:
                groups.append((t, [f]))
    return groups


def base64_size(size: int) -> int:
    """How many bytes `size` bytes take once base64-encoded."""
    return 4 * -(-size // 3)


@dataclass(frozen=True)
class _Blocks:
    """How files become content blocks in this request."""

    sources: Mapping[str, dict[str, Any]]
    labels: Iterator[int] | None
    citations: bool


def _message(turn: Turn, left_out: set[int], how: _Blocks) -> dict[str, Any]:
    if turn.role == "assistant":
        return {"role": "assistant", "content": [{"type": "text", "text": turn.text or "…"}]}
    # Images before the text that asks about them, as Anthropic's vision guide advises.
    blocks: list[dict[str, Any]] = []
    for i, ref in enumerate(turn.files):
        if i in left_out:
            continue
        if how.labels is not None and ref.kind == "image":
            blocks.append({"type": "text", "text": f"Image {next(how.labels)}{_part_of(ref)}:"})
        elif ref.part:
            blocks.append({"type": "text", "text": _part_label(ref)})
        blocks.append(_file_block(ref, how.sources, cited=how.citations))
    dropped = list(dict.fromkeys(ref.name for i, ref in enumerate(turn.files) if i in left_out))
    if dropped:
        blocks.append({"type": "text", "text": _left_out_note(dropped)})
    blocks.append({"type": "text", "text": turn.text or DEFAULT_QUESTION})
    return {"role": "user", "content": blocks}


def _part_of(ref: FileRef) -> str:
    """' (page.png, part 1 of 6, top)' for a part of a long image, else ''."""
    if not ref.part:
        return ""
    return f" ({ref.name}, part {ref.part} of {ref.parts}{_where(ref)})"


def _part_label(ref: FileRef) -> str:
    """What tells Claude that the images that follow are one long image, in order."""
    label = f"{ref.name}, part {ref.part} of {ref.parts}{_where(ref)}:"
    if ref.part != 1:
        return label
    order = "top to bottom" if _tall(ref) else "left to right"
    return (
        f"[{ref.name} is one long image, sent as {ref.parts} overlapping parts from {order}; "
        f"read them as one.]\n{label}"
    )


def _where(ref: FileRef) -> str:
    ends = ("top", "bottom") if _tall(ref) else ("left", "right")
    return {1: f", {ends[0]}", ref.parts: f", {ends[1]}"}.get(ref.part, "")


def _tall(ref: FileRef) -> bool:
    return (ref.height or 0) >= (ref.width or 0)


def _left_out_note(names: list[str]) -> str:
    return (
        f"[Left out of this request to stay within its limits: "
        f"{', '.join(names)}. Say so if the question needs them.]"
    )


def _file_block(
    ref: FileRef, sources: Mapping[str, dict[str, Any]], *, cited: bool = False
) -> dict[str, Any]:
    if ref.url:
        # A public link: Claude fetches it; the bot never does (no SSRF through the bot).
        return {"type": "image", "source": {"type": "url", "url": ref.url}}
    source = sources.get(ref.sha256) or {"type": "file", "file_id": ref.claude_file_id}
    block: dict[str, Any] = {"type": ref.kind, "source": source}
    if cited and ref.kind == "document":
        # The title comes back in each citation; Claude cites text, by page, never images.
        block["title"] = ref.name[:DOCUMENT_TITLE_LIMIT] or "document.pdf"
        block["citations"] = {"enabled": True}
    return block


def _merged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Join consecutive same-role messages: the API wants user and assistant to alternate."""
    merged: list[dict[str, Any]] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = [*merged[-1]["content"], *message["content"]]
        else:
            merged.append(message)
    return merged
