"""The fakes' AI-app surfaces behave as Slack and Anthropic document them (real clients)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests import samples
from tests.fakes import FakeClaude, FakeSlack

MODEL = "claude-sonnet-5-5"
PROMPT = {"title": "Explain an error", "message": "Explain this error"}


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
async def client(claude: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key=claude.api_key, base_url=claude.base_url) as c:
        yield c


async def refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as error:
        await call
    return str(error.value.response["error"])


async def test_suggested_prompts_up_to_four_and_no_thread_ts_for_agent_apps(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    await web.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=[PROMPT], title="Hi")
    assert slack.suggested["D1"] == {"title": "Hi", "prompts": [PROMPT]}

    # The documented trap: with a thread_ts an agent app's call "silently fails".
    await web.assistant_threads_setSuggestedPrompts(
        channel_id="D2", thread_ts="1.2", prompts=[PROMPT]
    )
    assert "D2" not in slack.suggested
    slack.agent_view = False  # a legacy assistant_view app sets them per thread
    await web.assistant_threads_setSuggestedPrompts(
        channel_id="D2", thread_ts="1.2", prompts=[PROMPT]
    )
    assert "D2" in slack.suggested

    five = [PROMPT] * 5
    assert await refused(web.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=five))
    no_message = [{"title": "x"}]
    assert await refused(
        web.assistant_threads_setSuggestedPrompts(channel_id="D1", prompts=no_message)
    )


async def test_titles_and_loading_messages(slack: FakeSlack, web: AsyncWebClient) -> None:
    await web.assistant_threads_setTitle(channel_id="D1", thread_ts="1.2", title="Checkout 500")
    assert slack.titles == {("D1", "1.2"): "Checkout 500"}
    assert await refused(web.assistant_threads_setTitle(channel_id="D1", thread_ts="1.2", title=""))

    await web.assistant_threads_setStatus(
        channel_id="C1", thread_ts="1.2", status="is reading…", loading_messages=["Reading…"]
    )
    eleven = [f"step {n}" for n in range(11)]
    error = await refused(
        web.assistant_threads_setStatus(
            channel_id="C1", thread_ts="1.2", status="x", loading_messages=eleven
        )
    )
    assert error == "invalid_arguments"


def feedback(**change: Any) -> dict[str, Any]:
    button = {"text": {"type": "plain_text", "text": "👍"}, "value": "positive:x"}
    element = {"type": "feedback_buttons", "action_id": "fb", "positive_button": button}
    element["negative_button"] = {**button, "value": "negative:x"}
    return {"type": "context_actions", "elements": [element], **change}


async def test_context_actions_and_feedback_buttons_are_checked(web: AsyncWebClient) -> None:
    ok = await web.chat_postMessage(channel="C1", text="answer", blocks=[feedback()])
    assert ok["ok"]

    element = feedback()["elements"][0]
    too_many = feedback(elements=[element] * 6)
    long_text = {**element, "positive_button": {**element["positive_button"]}}
    long_text["positive_button"]["text"] = {"type": "plain_text", "text": "x" * 76}
    no_value = {**element, "negative_button": {"text": element["negative_button"]["text"]}}
    outside = {"type": "actions", "elements": [element]}  # must be in context_actions
    for blocks in (
        [too_many],
        [feedback(elements=[long_text])],
        [feedback(elements=[no_value])],
        [outside],
    ):
        assert await refused(web.chat_postMessage(channel="C1", text="a", blocks=blocks)) == (
            "invalid_blocks"
        )


async def test_feedback_clicks_come_from_the_posted_buttons(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    posted = await web.chat_postMessage(
        channel="C1", thread_ts="1.1", text="a", blocks=[feedback()]
    )

    payload = slack.feedback_click(posted["ts"], positive=False, user="U1")

    (action,) = payload["actions"]
    assert (action["type"], action["action_id"], action["value"]) == (
        "feedback_buttons",
        "fb",
        "negative:x",
    )
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C1",
        "thread_ts": "1.1",
    }


async def test_channel_history_newest_first_rate_limited_and_members_only(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    for n in range(20):
        slack.post_to_channel("C1", {"user": "U1", "ts": f"1700000000.{n:06d}", "text": f"{n}"})

    page = await web.conversations_history(channel="C1", limit=100)
    assert [m["text"] for m in page["messages"][:2]] == ["19", "18"]
    assert len(page["messages"]) == 15 and page["has_more"]
    link = await web.chat_getPermalink(channel="C1", message_ts="1700000000.000019")
    assert link["permalink"] == "https://test.slack.com/archives/C1/p1700000000000019"

    slack.history_rate_limit = True
    web_no_retry = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as error:
        await web_no_retry.conversations_history(channel="C1")
    assert error.value.response.status_code == 429
    slack.not_a_member.add("C2")
    assert await refused(web.conversations_history(channel="C2")) == "not_in_channel"


async def test_citations_come_as_page_locations_streamed_and_in_the_final_message(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    pdf = samples.text_pdf(["Intro.", "Revenue grew 12 percent.", "", "Costs fell."])
    document = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(pdf).decode(),
        },
        "title": "q3.pdf",
        "citations": {"enabled": True},
    }
    claude.cite = [(0, 2, 3), (0, 3, 4)]  # page 3 has no text: not citable
    request = {"role": "user", "content": [document, {"type": "text", "text": "growth?"}]}

    deltas = []
    async with client.messages.stream(model=MODEL, max_tokens=100, messages=[request]) as s:
        async for event in s:
            if event.type == "content_block_delta" and event.delta.type == "citations_delta":
                deltas.append(event.delta.citation)
        final = await s.get_final_message()

    (citation,) = deltas
    assert citation.type == "page_location"
    assert (citation.start_page_number, citation.end_page_number) == (2, 3)
    assert citation.cited_text == "Revenue grew 12 percent." and citation.document_title == "q3.pdf"
    cited = [c for b in final.content if b.type == "text" for c in b.citations or []]
    assert cited == deltas
    text = "".join(b.text for b in final.content if b.type == "text")
    assert text == "I see 0 image(s) and 1 document(s). **Answer 1.**"


async def test_citations_on_some_documents_only_are_refused(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    data = base64.b64encode(samples.text_pdf(["a."])).decode()
    source = {"type": "base64", "media_type": "application/pdf", "data": data}
    with_citations = {"type": "document", "source": source, "citations": {"enabled": True}}
    without = {"type": "document", "source": source}
    content = [with_citations, without, {"type": "text", "text": "?"}]

    with pytest.raises(anthropic.BadRequestError) as error:
        await client.messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": content}]
        )
    assert "all or none" in str(error.value)
