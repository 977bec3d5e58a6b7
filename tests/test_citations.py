"""PDF answers say where in the PDF they come from: a compact sources line from page citations."""

from __future__ import annotations

from typing import Any

from tests import samples
from tests.harness import Harness

PAGES = [
    "Q3 report for the board.",
    "Revenue grew 12 percent over the quarter.",
    "Growth came from the enterprise plan.",
    "Headcount stayed flat.",
    "",  # a full-page chart: no text to cite
    "Travel costs fell.",
    "Churn rose to 3 percent in September.",
    "Outlook: stable.",
]


def documents(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for m in request["messages"] for b in m["content"] if b["type"] == "document"]


async def test_a_cited_pdf_answer_ends_with_its_pages(harness: Harness) -> None:
    report = harness.slack.add_file(
        "F1", "q3-report.pdf", samples.text_pdf(PAGES), "application/pdf"
    )
    harness.claude.cite = [(0, 2, 4), (0, 7, 8)]  # pages 2–3 and 7
    msg = await harness.mention("how did the quarter go?", files=[report])

    (reply,) = await harness.replies(msg["ts"])

    said = "I see 0 image(s) and 1 document(s). **Answer 1.**"
    assert reply == f"{said}\n\nSources: *q3-report.pdf* p. 2–3, p. 7\n\n_Template: describe_"
    assert "Revenue grew" not in reply  # the cited text itself is not repeated
    (document,) = documents(harness.claude.requests[0])
    assert document["citations"] == {"enabled": True}
    assert document["title"] == "q3-report.pdf"


async def test_follow_ups_see_the_answer_without_its_sources_line(harness: Harness) -> None:
    report = harness.slack.add_file(
        "F1", "q3-report.pdf", samples.text_pdf(PAGES), "application/pdf"
    )
    msg = await harness.mention("how did the quarter go?", files=[report])
    await harness.replies(msg["ts"])
    await harness.message("and churn?", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    assert replies[0].count("Sources: *q3-report.pdf* p. 1") == 1  # the fake cites page 1
    earlier = harness.claude.requests[1]["messages"][1]
    assert earlier == {
        "role": "assistant",
        "content": [{"type": "text", "text": "I see 0 image(s) and 1 document(s). **Answer 1.**"}],
    }
    assert all(d["citations"] == {"enabled": True} for d in documents(harness.claude.requests[1]))


async def test_pages_of_several_pdfs_are_named_per_file(harness: Harness) -> None:
    first = harness.slack.add_file("F1", "q2.pdf", samples.text_pdf(PAGES[:3]), "application/pdf")
    second = harness.slack.add_file("F2", "q3.pdf", samples.text_pdf(PAGES), "application/pdf")
    harness.claude.cite = [(1, 7, 8), (0, 2, 3), (1, 2, 3), (1, 3, 4)]
    msg = await harness.mention("compare", files=[first, second])

    (reply,) = await harness.replies(msg["ts"])

    assert "\n\nSources: *q2.pdf* p. 2; *q3.pdf* p. 2–3, p. 7\n\n" in reply


async def test_a_scanned_pdf_has_nothing_to_cite_and_no_sources_line(harness: Harness) -> None:
    scan = harness.slack.add_file("F1", "scan.pdf", samples.pdf(2), "application/pdf")
    msg = await harness.mention("what is it?", files=[scan])

    (reply,) = await harness.replies(msg["ts"])

    assert "Sources:" not in reply
    assert documents(harness.claude.requests[0])[0]["citations"] == {"enabled": True}
