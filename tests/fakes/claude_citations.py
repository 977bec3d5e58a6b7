"""Citations in the fake Claude API: document fields, and answers cited by PDF page.

As the real API documents them: `citations: {"enabled": true}` on a document block asks for
citations, on all of a request's documents or none; PDF text is cited by page
(`page_location`, `start_page_number` 1-indexed, `end_page_number` exclusive), and pages
without extractable text (scans) cannot be cited. A cited answer comes as several text blocks,
the cited ones carrying `citations`; streamed, each citation is a `citations_delta`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pypdf import PdfReader

Json = dict[str, Any]
TITLE_LIMIT = 255
CITED_TEXT_LIMIT = 200


@dataclass
class Document:
    """One document block of a request, as citations see it."""

    index: int  # among the request's documents, in order
    cited: bool
    title: str | None = None
    file_id: str | None = None
    pages: list[str] = field(default_factory=list)  # extracted text per page (PDFs)


def check_fields(block: Json, path: str, bad: Callable[[str], Exception]) -> bool:
    """Validate a document block's title and citations; whether it asks for citations."""
    title = block.get("title")
    if title is not None and (not isinstance(title, str) or not 0 < len(title) <= TITLE_LIMIT):
        raise bad(f"{path}.document.title: String should have 1 to {TITLE_LIMIT} characters")
    context = block.get("context")
    if context is not None and not isinstance(context, str):
        raise bad(f"{path}.document.context: Input should be a valid string")
    citations = block.get("citations")
    if citations is None:
        return False
    if not isinstance(citations, dict) or set(citations) - {"enabled"}:
        raise bad(f"{path}.document.citations: Input should be a valid dictionary")
    if not isinstance(citations.get("enabled", False), bool):
        raise bad(f"{path}.document.citations.enabled: Input should be a valid boolean")
    return bool(citations.get("enabled"))


def check_all_or_none(documents: list[Document], bad: Callable[[str], Exception]) -> None:
    """The API refuses a request that mixes documents with and without citations."""
    if len({d.cited for d in documents}) > 1:
        raise bad("Citations must be enabled on all or none of the documents in a request.")


def page_texts(data: bytes) -> list[str]:
    """The text pypdf extracts from each page ("" for a scanned page)."""
    return [(page.extract_text() or "").strip() for page in PdfReader(io.BytesIO(data)).pages]


def cited_blocks(
    text: str, documents: list[Document], cite: list[tuple[int, int, int]] | None
) -> list[Json]:
    """The answer's content blocks: `text` split so that each citation has a block of its own."""
    citations = [c for c in _citations(documents, cite) if c is not None]
    if not citations or len(text) <= len(citations):
        return [{"type": "text", "text": text}]
    step = len(text) // (len(citations) + 1)
    blocks: list[Json] = [{"type": "text", "text": text[:step]}]
    for n, citation in enumerate(citations, start=1):
        end = len(text) if n == len(citations) else step * (n + 1)
        blocks.append({"type": "text", "text": text[step * n : end], "citations": [citation]})
    return blocks


def _citations(
    documents: list[Document], cite: list[tuple[int, int, int]] | None
) -> list[Json | None]:
    cited = [d for d in documents if d.cited and d.pages]
    if cite is None:  # by default, the first page with text of each citable document
        cite = [
            (d.index, p, p + 1)
            for d in cited
            for p in [next((i + 1 for i, t in enumerate(d.pages) if t), 0)]
            if p
        ]
    by_index = {d.index: d for d in cited}
    return [_citation(by_index.get(index), start, end) for index, start, end in cite]


def _citation(document: Document | None, start: int, end: int) -> Json | None:
    """A page_location citation of pages start..end-1, if they have text to cite."""
    if document is None or not 1 <= start < end <= len(document.pages) + 1:
        return None
    cited_text = " ".join(t for t in document.pages[start - 1 : end - 1] if t)
    if not cited_text:
        return None  # "PDFs that are scans of documents ... are not citable"
    citation: Json = {"type": "page_location", "cited_text": cited_text[:CITED_TEXT_LIMIT]}
    citation.update(document_index=document.index, document_title=document.title)
    citation.update(start_page_number=start, end_page_number=end)
    if document.file_id:
        citation["file_id"] = document.file_id
    return citation
