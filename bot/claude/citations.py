"""Where in a PDF an answer comes from: Claude's page citations, as a compact sources line."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from anthropic.types import Message


@dataclass(frozen=True)
class PageCitation:
    """Pages of one of the request's documents that a passage of the answer cites."""

    document_index: int  # among the request's documents, in order
    title: str | None
    start_page: int  # 1-indexed
    end_page: int  # exclusive, as the API gives it


def page_citations(message: Message) -> tuple[PageCitation, ...]:
    """Every page citation in the answer's text blocks, in the order they come."""
    found: list[PageCitation] = []
    for block in message.content:
        if block.type != "text":
            continue
        for citation in block.citations or []:
            if citation.type == "page_location":
                found.append(
                    PageCitation(
                        citation.document_index,
                        citation.document_title,
                        citation.start_page_number,
                        citation.end_page_number,
                    )
                )
    return tuple(found)


def sources_line(pages: tuple[PageCitation, ...], documents: list[str]) -> str | None:
    """ "Sources: *q3-report.pdf* p. 2–3, p. 7" from the citations; `documents` names them."""
    cited: dict[int, set[int]] = defaultdict(set)
    for page in pages:
        if page.end_page > page.start_page >= 1:
            cited[page.document_index].update(range(page.start_page, page.end_page))
    if not cited:
        return None
    parts = []
    for index in sorted(cited):
        title = next((p.title for p in pages if p.document_index == index and p.title), None)
        name = documents[index] if index < len(documents) else title or "the PDF"
        parts.append(f"*{name}* {_ranges(sorted(cited[index]))}")
    return "Sources: " + "; ".join(parts)


def _ranges(numbers: list[int]) -> str:
    """[2, 3, 7] → "p. 2–3, p. 7": runs of consecutive pages joined."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"p. {r[0]}" if len(r) == 1 else f"p. {r[0]}–{r[-1]}" for r in runs)
