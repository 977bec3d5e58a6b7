"""How files reach Claude: uploaded once to the Files API, or inline as base64."""

from __future__ import annotations

from typing import Any, Protocol

from bot.media.prepare import PreparedMedia
from bot.models import FileRef


class Transport(Protocol):
    """Stores prepared files where Claude can read them and names them in requests."""

    inline: bool  # True when requests carry the bytes (their size then counts)

    async def store(self, team_id: str, media: PreparedMedia) -> str:
        """Make the bytes available; the Files API id, or "" when sent inline."""
        ...

    async def sources(self, team_id: str, refs: list[FileRef]) -> dict[str, dict[str, Any]]:
        """`source` blocks by SHA-256 for inline files ({} for the Files API)."""
        ...

    async def is_available(self, team_id: str, ref: FileRef) -> bool:
        """Whether a stored file can still be used, or must be fetched and stored again."""
        ...

    async def forget(self, team_id: str, sha256: str) -> None:
        """Drop what is cached for these bytes, so the next store starts afresh."""
        ...

    async def delete(self, team_id: str, ref: FileRef) -> None:
        """Delete the bytes for good (no thread uses them any more)."""
        ...
