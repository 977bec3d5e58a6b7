"""Claude's failures in words for the thread, and the files Claude (or Redis) no longer has."""

from __future__ import annotations

import anthropic

from bot.claude.window import TooLong, too_long
from bot.errors import ClaudeRejected, ClaudeUnavailable, LinkUnreachable

_BUSY = "Claude is overloaded or rate-limited right now. Please try again in a minute."
_UNREACHABLE = "I couldn't reach Claude just now. Please try again in a minute."
_KEY = (
    "Claude refused my credentials. Whoever runs this bot should check ANTHROPIC_API_KEY "
    "and the workspace's access."
)
_TRANSIENT = {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}
_TOO_LONG = (
    "This question and what it needs from the thread are more than the model can read at "
    "once. Ask about fewer files or pages at a time, or start a new thread with just those."
)


class ContextTooLong(ClaudeRejected):
    """Claude counted more tokens in the prompt than the model reads at once."""

    def __init__(self, counted: TooLong) -> None:
        super().__init__(_TOO_LONG)
        self.counted = counted


class FileGone(Exception):
    """Claude no longer has a file the request refers to (expired or deleted)."""


class MediaGone(Exception):
    """Some inline bytes expired from Redis: fetch them from Slack again."""


def translate_error(exc: anthropic.APIError) -> Exception:
    """The user-facing error (or FileGone) for a failed Claude API call."""
    if isinstance(exc, anthropic.APIConnectionError):
        return ClaudeUnavailable(_UNREACHABLE)
    if not isinstance(exc, anthropic.APIStatusError):
        return ClaudeUnavailable(_UNREACHABLE)
    if isinstance(exc, anthropic.NotFoundError) and "file" in (exc.api_message or "").lower():
        return FileGone(exc.api_message or "file not found")
    if isinstance(exc, anthropic.NotFoundError) and exc.error_code == "file_expired":
        return FileGone("file expired")
    # A mid-stream `error` event arrives on a 200 response; its type says what happened.
    if exc.status_code == 429 or exc.status_code >= 500 or exc.type in _TRANSIENT:
        return ClaudeUnavailable(_BUSY)
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return ClaudeRejected(_KEY)
    if exc.status_code == 413:
        return ClaudeRejected(
            "This conversation has grown too large for one request. Start a new thread "
            "with just the images you need."
        )
    detail = exc.api_message or "no reason given"
    if exc.status_code == 400 and (counted := too_long(detail)):
        return ContextTooLong(counted)
    if exc.status_code == 400 and "download" in detail.lower():
        return LinkUnreachable(
            f"Claude couldn't download an image link ({detail}). Upload the image to Slack instead."
        )
    return ClaudeRejected(f"Claude couldn't process this request: {detail}")
