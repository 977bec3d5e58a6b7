"""The request plan for long threads: first exchange kept, middle dropped in steps."""

from __future__ import annotations

from bot.claude.request import MAX_MESSAGES, TRIM_STEP, build_request, plan
from bot.models import FileRef, Turn


def screenshot_ref() -> FileRef:
    return FileRef(
        slack_file_id="F1",
        name="shot.png",
        media_type="image/png",
        sha256="abc",
        claude_file_id="file_1",
        width=100,
        height=80,
    )


def thread(exchanges: int) -> list[Turn]:
    turns = []
    for n in range(exchanges):
        files = [screenshot_ref()] if n == 0 else []
        turns += [
            Turn(role="user", text=f"q{n}", files=files),
            Turn(role="assistant", text=f"a{n}"),
        ]
    return turns


def test_a_short_thread_is_sent_whole() -> None:
    sent = plan(thread(5), Turn(role="user", text="next"))
    assert len(sent.turns) == 11 and sent.dropped_messages == 0


def test_a_long_thread_keeps_its_first_exchange_and_latest_messages() -> None:
    history = thread(30)  # 60 messages, plus the question
    sent = plan(history, Turn(role="user", text="latest?"))
    request = build_request(model="m", max_tokens=100, plan=sent)

    messages = request["messages"]
    assert len(messages) <= MAX_MESSAGES
    assert sent.dropped_messages % TRIM_STEP == 0 and sent.dropped_messages > 0
    assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2) + ["user"]
    assert messages[0]["content"][0]["source"]["file_id"] == "file_1"  # the screenshot stays
    assert "earlier messages of this thread are left out" in messages[2]["content"][-1]["text"]
    assert messages[-1]["content"][-1]["text"] == "latest?"


def test_the_cut_moves_in_steps_so_the_cached_prefix_holds() -> None:
    cuts = {plan(thread(n), Turn(role="user", text="?")).dropped_messages for n in range(21, 25)}
    assert cuts == {TRIM_STEP}


def test_bedrock_and_vertex_get_a_block_cache_breakpoint_instead_of_the_top_level_one() -> None:
    sent = plan(thread(2), Turn(role="user", text="next?", files=[screenshot_ref()]))

    direct = build_request(model="m", max_tokens=100, plan=sent)
    cloud = build_request(model="m", max_tokens=100, plan=sent, automatic_cache=False)

    assert direct["cache_control"] == {"type": "ephemeral"}
    assert not any("cache_control" in b for m in direct["messages"] for b in m["content"])
    assert "cache_control" not in cloud
    marked = [b for m in cloud["messages"] for b in m["content"] if "cache_control" in b]
    assert marked == [{"type": "text", "text": "next?", "cache_control": {"type": "ephemeral"}}]


def test_pdfs_ask_for_citations_only_where_the_platform_gives_them() -> None:
    report = screenshot_ref().model_copy(
        update={"kind": "document", "name": "q3.pdf", "media_type": "application/pdf", "pages": 3}
    )
    sent = plan([], Turn(role="user", text="summary?", files=[report, screenshot_ref()]))

    cited = build_request(model="m", max_tokens=100, plan=sent)
    plain = build_request(model="m", max_tokens=100, plan=sent, citations=False)

    document, image = cited["messages"][0]["content"][:2]
    assert document["citations"] == {"enabled": True} and document["title"] == "q3.pdf"
    assert "citations" not in image  # images can't be cited
    assert all("citations" not in b for b in plain["messages"][0]["content"])


def test_long_answers_past_the_token_budget_cut_the_oldest_messages_in_steps() -> None:
    history = thread(15)
    for turn in history[1::2]:
        turn.text = "A long answer about the screenshot. " * 60  # ~2,200 characters
    question = Turn(role="user", text="and the last line?", files=[screenshot_ref()])

    sent = plan(history, question, token_budget=6_000)

    assert sent.tokens() <= 6_000
    assert sent.oldest_dropped > 0 and sent.oldest_dropped % TRIM_STEP == 0
    assert sent.turns[0].role == "user" and sent.turns[-1].text == "and the last line?"
    assert sent.turns[-1].files == [screenshot_ref()]  # the question's own file always goes
    assert sent.turns[0].text.startswith(f"[{sent.oldest_dropped} earlier messages")
    # The cut moves in steps: a few more exchanges leave it where it was.
    later = plan([*history, question, Turn(role="assistant", text="ok")], question, None, 6_000)
    assert later.oldest_dropped == sent.oldest_dropped
