"""PDFs: what Claude can read, and an unlocked copy of what opens without a password."""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader, PdfWriter
from pypdf.errors import DependencyError

from bot.errors import FileRefused

logger = logging.getLogger(__name__)

PASSWORD_PROTECTED = "the PDF is password-protected. An unprotected copy would work."


def readable_pdf(name: str, data: bytes, max_pages: int) -> tuple[bytes, int]:
    """The bytes to send (decrypted if need be) and the page count, or FileRefused."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        data = _unlocked(name, reader)
    pages = len(reader.pages)
    if pages > max_pages:
        raise FileRefused(
            name,
            f"it has {pages} pages and Claude reads at most {max_pages} per request. "
            "Splitting it or sharing the pages that matter would work.",
        )
    return data, pages


def _unlocked(name: str, reader: PdfReader) -> bytes:
    """A copy without encryption, for a PDF that opens with the empty password."""
    # Acrobat and Word encrypt with an owner password alone (to restrict printing or
    # editing) or an empty user password: anyone can open those, so the reader can too.
    # Claude reads no encrypted PDF: it gets a decrypted copy.
    try:
        opened = reader.decrypt("")
    except DependencyError:
        # pypdf[crypto] is a dependency: only a broken install gets here.
        logger.error("cannot decrypt %s: pypdf lacks its crypto extra (cryptography)", name)
        reason = "it is encrypted in a way this installation can't open."
        raise FileRefused(name, f"{reason} An unprotected copy would work.") from None
    if opened == PasswordType.NOT_DECRYPTED:
        raise FileRefused(name, PASSWORD_PROTECTED)
    writer = PdfWriter(clone_from=reader)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
