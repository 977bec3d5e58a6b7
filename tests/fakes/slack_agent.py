"""The fake Slack's AI-app surfaces: agent messaging experience, suggested prompts, titles,
feedback buttons, channel history and permalinks, and the payloads Slack sends for them.

Mixed into FakeSlack (tests/fakes/slack_api.py), which supplies the message store, the
rate-limit clock and `_refuse` (answers the call with `{"ok": false, "error": ...}`).
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

Json = dict[str, Any]
MAX_PROMPTS = 4  # assistant.threads.setSuggestedPrompts: "up to four suggested prompts"
MAX_LOADING_MESSAGES = 10  # assistant.threads.setStatus: "Maximum of 10 messages"
CONTEXT_ACTIONS_ELEMENTS = 5  # context_actions: "Maximum number of items is 5"
CONTEXT_ACTIONS_TYPES = ("feedback_buttons", "icon_button")
BUTTON_TEXT_LIMIT, BUTTON_VALUE_LIMIT, LABEL_LIMIT, ID_LIMIT = 75, 2000, 75, 255
CHANNEL_ENTITY = "slack#/types/channel_id"


def _is_text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _feedback_button_ok(button: Any) -> bool:
    """A positive_button/negative_button object as the feedback buttons element documents it."""
    if not isinstance(button, dict):
        return False
    text = button.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return False
    if not _is_text(text.get("text"), BUTTON_TEXT_LIMIT):
        return False
    if not _is_text(button.get("value"), BUTTON_VALUE_LIMIT):
        return False
    label = button.get("accessibility_label")
    return label is None or _is_text(label, LABEL_LIMIT)


def _context_actions_ok(block: Json) -> bool:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= CONTEXT_ACTIONS_ELEMENTS:
        return False
    if "block_id" in block and not _is_text(block["block_id"], ID_LIMIT):
        return False
    for element in elements:
        if not isinstance(element, dict) or element.get("type") not in CONTEXT_ACTIONS_TYPES:
            return False
        if "action_id" in element and not _is_text(element["action_id"], ID_LIMIT):
            return False
        if element["type"] == "feedback_buttons" and not (
            _feedback_button_ok(element.get("positive_button"))
            and _feedback_button_ok(element.get("negative_button"))
        ):
            return False
    return True


def feedback_blocks_ok(blocks: list[Json]) -> bool:
    """Whether context_actions blocks are well formed, and feedback buttons only in them."""
    for block in blocks:
        if block["type"] == "context_actions":
            if not _context_actions_ok(block):
                return False
            continue
        # "The feedback buttons element must be used inside the context actions block."
        inner = [block.get("accessory"), block.get("element"), *block.get("elements", [])]
        if any(isinstance(e, dict) and e.get("type") == "feedback_buttons" for e in inner):
            return False
    return True


class AgentSurfaces:
    """Web API methods and event payloads of Slack's AI app surfaces (a FakeSlack mixin)."""

    team_id: str
    team_domain: str
    bot_user_id: str
    _clock_offset: float

    def _init_agent(self) -> None:
        # The app uses features.agent_view (the agent messaging experience): a thread_ts on
        # setSuggestedPrompts is for assistant_view apps only, and makes the call do nothing.
        self.agent_view = True
        self.suggested: dict[str, Json] = {}  # DM channel → {"title", "prompts"} shown there
        self.titles: dict[tuple[str, str], str] = {}  # (channel, thread_ts) → title
        self.history_rate_limit = True  # non-Marketplace apps: 1 call a minute, 15 messages
        self.history_window = 60.0
        self.history_page_size = 15
        self._channel_messages: dict[str, list[Json]] = {}
        self._history_last: dict[str, float] = {}

    # ----- implemented by FakeSlack -----
    def _refuse(self, error: str, *, status: int = 200, retry_after: str = "") -> NoReturn:
        raise NotImplementedError

    def _bot_messages_json(self, channel: str) -> list[Json]:
        raise NotImplementedError

    # ----- test controls -----
    def post_to_channel(self, channel: str, message: Json) -> Json:
        """A top-level message someone posted in a channel (what conversations.history lists)."""
        stored = {"type": "message", "team": self.team_id, **message}
        self._channel_messages.setdefault(channel, []).append(stored)
        return stored

    @staticmethod
    def channel_entity(channel_id: str, team_id: str = "") -> Json:
        """An app context entity for a channel the person is viewing."""
        entity: Json = {"type": CHANNEL_ENTITY, "value": channel_id}
        if team_id:
            entity["team_id"] = team_id
        return entity

    def app_home_opened(
        self, user: str, channel: str, *, tab: str = "messages", entities: list[Json] | None = None
    ) -> Json:
        """The app_home_opened event of a person opening the app's Messages (or Home) tab."""
        event: Json = {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab}
        event["event_ts"] = f"{time.time():.6f}"
        if entities is not None:  # sent when the app subscribes to app_context_changed
            event["context"] = {"entities": entities}
        return event

    def app_context_changed(self, user: str, channel: str, entities: list[Json]) -> Json:
        """The app_context_changed event: what the person views now, most relevant first."""
        context: Json = {"entities": entities} if entities else {}  # "{}" when nothing
        event: Json = {"type": "app_context_changed", "user": user, "channel": channel}
        return {**event, "context": context, "event_ts": f"{time.time():.6f}"}

    def feedback_click(self, ts: str, *, positive: bool, user: str) -> Json:
        """The block_actions payload of clicking a feedback button under the bot's message."""
        message = self.message(ts)  # type: ignore[attr-defined]  # FakeSlack's
        for block in message.blocks or []:
            for element in block.get("elements", []) if block["type"] == "context_actions" else []:
                if element.get("type") != "feedback_buttons":
                    continue
                button = element["positive_button" if positive else "negative_button"]
                action: Json = {"type": "feedback_buttons", "action_id": element["action_id"]}
                action.update(block_id=block.get("block_id", "ctx"), value=button["value"])
                action.update(text=button["text"], action_ts=f"{time.time():.6f}")
                return self._block_actions(message.channel, ts, message.thread_ts, user, action)
        raise AssertionError(f"no feedback buttons under {ts}")

    def ephemeral_choice(self, ephemeral: Json, value: str, *, user: str) -> Json:
        """The block_actions payload of picking `value` in a static select of an ephemeral."""
        for block in ephemeral.get("blocks") or []:
            for element in block.get("elements", []) if block["type"] == "actions" else []:
                if element.get("type") != "static_select":
                    continue
                (option,) = [o for o in element["options"] if o["value"] == value]
                action: Json = {"type": "static_select", "action_id": element["action_id"]}
                action.update(block_id=block.get("block_id", "act"), selected_option=option)
                action["action_ts"] = f"{time.time():.6f}"
                # Ephemeral messages come back without a `message`, marked in the container.
                container: Json = {"type": "message", "message_ts": ephemeral["message_ts"]}
                container.update(channel_id=ephemeral["channel"], is_ephemeral=True)
                payload: Json = {"type": "block_actions", "container": container}
                payload.update(channel={"id": ephemeral["channel"]}, actions=[action])
                payload.update(user={"id": user, "team_id": self.team_id}, trigger_id="trig")
                return payload
        raise AssertionError("no select in that ephemeral message")

    def _block_actions(
        self, channel: str, ts: str, thread_ts: str | None, user: str, action: Json
    ) -> Json:
        container: Json = {"type": "message", "message_ts": ts, "channel_id": channel}
        message: Json = {"type": "message", "ts": ts, "user": self.bot_user_id}
        if thread_ts:
            container["thread_ts"] = message["thread_ts"] = thread_ts
        payload: Json = {"type": "block_actions", "container": container, "message": message}
        payload.update(channel={"id": channel}, actions=[action], trigger_id="trig")
        payload["user"] = {"id": user, "team_id": self.team_id}
        return payload

    # ----- Web API -----
    def _required(self, args: Json, *names: str) -> None:
        if any(args.get(n) in (None, "") for n in names):
            self._refuse("invalid_arguments")

    def _m_assistant_threads_setSuggestedPrompts(self, args: Json) -> Json:
        self._required(args, "channel_id", "prompts")
        prompts = args["prompts"]
        if not isinstance(prompts, list) or not 0 < len(prompts) <= MAX_PROMPTS:
            self._refuse("invalid_arguments")
        for prompt in prompts:
            if not isinstance(prompt, dict) or not all(
                isinstance(prompt.get(k), str) and prompt[k].strip() for k in ("title", "message")
            ):
                self._refuse("invalid_arguments")
        title = args.get("title")
        if title is not None and not isinstance(title, str):
            self._refuse("invalid_arguments")
        if args.get("thread_ts") and self.agent_view:
            return {}  # Slack's documented trap: "the call will silently fail" for agent apps
        self.suggested[str(args["channel_id"])] = {"title": title, "prompts": prompts}
        return {}

    def _m_assistant_threads_setTitle(self, args: Json) -> Json:
        self._required(args, "channel_id", "thread_ts", "title")
        if not isinstance(args["title"], str):
            self._refuse("invalid_arguments")
        self.titles[(str(args["channel_id"]), str(args["thread_ts"]))] = args["title"]
        return {}

    def _m_chat_getPermalink(self, args: Json) -> Json:
        self._required(args, "channel", "message_ts")
        channel, ts = str(args["channel"]), str(args["message_ts"])
        if not any(m.get("ts") == ts for m in self._history_of(channel)):
            self._refuse("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": link}

    def _m_conversations_history(self, args: Json) -> Json:
        self._required(args, "channel")
        channel = str(args["channel"])
        if self.history_rate_limit:
            now, last = time.monotonic() + self._clock_offset, self._history_last.get(channel)
            if last is not None and now - last < self.history_window:
                wait = max(1, int(self.history_window - (now - last)) + 1)
                self._refuse("ratelimited", status=429, retry_after=str(wait))
            self._history_last[channel] = now
        newest_first = sorted(self._history_of(channel), key=lambda m: -float(m["ts"]))
        limit = max(1, min(int(args.get("limit") or 100), self.history_page_size))
        page = newest_first[:limit]
        cursor = "bmV4dF90czox" if len(newest_first) > limit else ""
        meta = {"next_cursor": cursor}
        return {"messages": page, "has_more": bool(cursor), "response_metadata": meta}

    def _history_of(self, channel: str) -> list[Json]:
        """Top-level messages of a channel: people's and the bot's own."""
        return [*self._channel_messages.get(channel, []), *self._bot_messages_json(channel)]

    @staticmethod
    def loading_messages_ok(value: Any) -> bool:
        """assistant.threads.setStatus's optional loading_messages: up to 10 strings."""
        if value is None:
            return True
        return (
            isinstance(value, list)
            and len(value) <= MAX_LOADING_MESSAGES
            and all(isinstance(m, str) and m for m in value)
        )
