"""A request's size in tokens, estimated, and fitting a conversation into the context window."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.media.prepare import NATIVE_LONG_EDGE, estimate_image_tokens
from bot.models import FileRef, Turn

# messages.count_tokens refuses `file` and `url` sources, so the bot estimates, erring high:
# prose runs about 4 characters a token, code and non-Latin scripts fewer.
CHARS_PER_TOKEN = 3
# Claude reads each PDF page as its text plus an image of the page (1,500-3,000 tokens a
# page in Anthropic's guide): the image of a Letter page, and a fairly dense page of text.
PDF_PAGE_TOKENS = 1_600 + 600
# An image link's size is unknown until Claude fetches it: the most an image can cost.
LINK_TOKENS = estimate_image_tokens(NATIVE_LONG_EDGE, NATIVE_LONG_EDGE)
MESSAGE_TOKENS = 5  # a message's own framing
# After the API refuses a prompt as too long, the re-planned request aims this far below.
REPLAN_MARGIN = 0.9

# The API's two ways of saying the prompt is past the context window: the prompt alone, or
# the prompt with max_tokens (models before the context-window stop reason).
_TOO_LONG = (
    re.compile(r"prompt is too long: (?P<tokens>\d+) tokens > (?P<window>\d+) maximum"),
    re.compile(
        r"input length and `max_tokens` exceed context limit: (?P<tokens>\d+) \+ \d+ > "
        r"(?P<window>\d+)"
    ),
)


@dataclass(frozen=True)
class TooLong:
    """What the API counted for a prompt it refused, and the window it holds it to."""

    tokens: int
    window: int


def too_long(message: str) -> TooLong | None:
    """The counts in a "prompt is too long" refusal, or None for any other message."""
    for pattern in _TOO_LONG:
        if found := pattern.search(message):
            return TooLong(int(found["tokens"]), int(found["window"]))
    return None


def window_budget(window: int, max_tokens: int, system: str) -> int:
    """Tokens the messages may take: the window less the answer and the system prompt."""
    return window - max_tokens - text_tokens(system)


def replan_budget(refused: TooLong, estimated: int, max_tokens: int, system: str) -> int:
    """The budget for a second try, in the estimate's units, after the API counted more."""
    # `estimated` is what the refused request came to by this module's count (system prompt
    # included): scaling by it turns the API's own count into the estimate's terms.
    scale = estimated / max(refused.tokens, 1)
    fits = (refused.window - max_tokens) * scale * REPLAN_MARGIN
    return int(fits) - text_tokens(system)


def text_tokens(text: str) -> int:
    """Tokens `text` may take."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def file_tokens(ref: FileRef) -> int:
    """Tokens one image or PDF takes in a request."""
    if ref.kind == "document":
        return PDF_PAGE_TOKENS * (ref.pages or 1)
    if ref.width and ref.height:
        return estimate_image_tokens(ref.width, ref.height)
    return LINK_TOKENS


def turn_tokens(turn: Turn, left_out: set[int] | frozenset[int] = frozenset()) -> int:
    """Tokens one message takes, without the files left out of it."""
    files = sum(file_tokens(ref) for i, ref in enumerate(turn.files) if i not in left_out)
    return MESSAGE_TOKENS + text_tokens(turn.text) + files


def plan_tokens(turns: list[Turn], left_out: dict[int, set[int]]) -> int:
    """Tokens the planned messages take."""
    return sum(turn_tokens(turn, left_out.get(i, set())) for i, turn in enumerate(turns))


def fit(
    turns: list[Turn], left_out: dict[int, set[int]], budget: int, step: int
) -> tuple[list[Turn], dict[int, set[int]], int]:
    """Leave the oldest material out until the messages fit `budget` tokens.

    Files go first, oldest first, then whole messages from the start, `step` at a time (so
    the cut, and the cached prefix after it, moves seldom). The question and its files always
    stay. Returns the messages, the files left out of them, and how many messages were cut.
    """
    left_out = {t: set(files) for t, files in left_out.items()}
    excess = plan_tokens(turns, left_out) - budget
    for t, turn in enumerate(turns[:-1]):
        for f, ref in enumerate(turn.files):
            if excess > 0 and f not in left_out.get(t, set()):
                left_out.setdefault(t, set()).add(f)
                excess -= file_tokens(ref)
    cut = 0
    while excess > 0 and cut < len(turns) - 1:
        end = min(cut + step, len(turns) - 1)
        excess -= sum(turn_tokens(turns[i], left_out.get(i, set())) for i in range(cut, end))
        cut = end
    while 0 < cut < len(turns) - 1 and turns[cut].role != "user":
        cut += 1  # the request starts with a question
    if not cut:
        return turns, left_out, 0
    kept = {t - cut: files for t, files in left_out.items() if t >= cut}
    return turns[cut:], kept, cut
