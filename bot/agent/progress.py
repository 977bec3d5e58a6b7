"""What the thread's status line says while the bot works ("vision is downloading a.png…")."""

from __future__ import annotations

from bot.models import FileRef, SlackFile

THINKING = "is thinking…"
WRITING = "is writing…"


def downloading(files: list[SlackFile]) -> str:
    """While the question's files come from Slack."""
    if len(files) == 1:
        # A shortcut's file comes with its id only: no name worth showing yet.
        return f"is downloading {files[0].name or 'a file'}…"
    return f"is downloading {len(files)} files…"


def reading(files: list[FileRef]) -> str:
    """While Claude reads what the request carries, before its first words."""
    pages = sum(ref.pages or 0 for ref in files if ref.kind == "document")
    images = sum(ref.kind == "image" for ref in files)
    looking = "looking at the image" if images == 1 else f"looking at {images} images"
    read = f"reading {pages} page{'s' if pages != 1 else ''}"
    if pages and images:
        return f"is {read} and {looking}…"
    if pages:
        return f"is {read}…"
    if images:
        return f"is {looking}…"
    return THINKING
