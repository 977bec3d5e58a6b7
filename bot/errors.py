"""The exceptions the bot shows people: a message that is safe to post as-is."""

from __future__ import annotations


class ConfigError(Exception):
    """A missing or invalid setting; its message is one line for the operator."""


class UserFacingError(Exception):
    """A failure the thread is told about, in words a user can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FileRefused(UserFacingError):
    """One shared file cannot be used; the rest of the message still gets an answer."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"I couldn't use *{name}*: {reason}")
        self.name = name
        self.reason = reason

    def __reduce__(self) -> tuple[type[FileRefused], tuple[str, str]]:
        # Raised in a worker process and sent back: rebuilt from its own arguments.
        return FileRefused, (self.name, self.reason)


class NothingToAnswer(UserFacingError):
    """Every file in the message was refused and there is no question left."""


class OverBudget(UserFacingError):
    """A spend limit is reached: the question is not answered (Claude is not called)."""


class ClaudeUnavailable(UserFacingError):
    """Claude is overloaded, rate-limited or unreachable; worth retrying later."""


class ClaudeRejected(UserFacingError):
    """Claude refused the request for a reason the bot cannot fix by retrying."""


class LinkUnreachable(ClaudeRejected):
    """Claude could not download an image link the request carries."""
