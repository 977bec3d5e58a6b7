"""The data that moves between Slack, Redis and Claude."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class ThreadRef(BaseModel):
    """One Slack thread: workspace, channel and the ts of its parent message."""

    model_config = ConfigDict(frozen=True)

    team_id: str
    channel_id: str
    thread_ts: str

    def __str__(self) -> str:
        return f"{self.team_id}/{self.channel_id}/{self.thread_ts}"


class SlackFile(BaseModel):
    """A file as a Slack event lists it (only what the bot needs)."""

    id: str
    name: str = ""
    mimetype: str | None = None
    size: int | None = None
    url_private_download: str | None = None
    url_private: str | None = None
    file_access: str | None = None

    @property
    def display_name(self) -> str:
        """The name shown to users."""
        return self.name or self.id

    @property
    def download_url(self) -> str | None:
        """The URL that serves the file's bytes."""
        return self.url_private_download or self.url_private


class Job(BaseModel):
    """A request the bot accepted (a message, a template choice, a shortcut), as queued."""

    action: Literal["answer", "redo", "forget"] = "answer"
    key: str = ""  # unique per request, for dedupe; the message ts unless set
    template: str | None = None  # chosen explicitly with this request
    team_id: str
    channel_id: str
    message_ts: str
    thread_ts: str
    user_id: str | None = None
    user_team_id: str | None = None  # the asker's workspace: another org's in Slack Connect
    text: str = ""
    files: list[SlackFile] = []
    links: list[str] = []  # public image links in the message
    is_dm: bool = False
    bot_user_id: str | None = None
    enterprise_id: str | None = None
    response_url: str | None = None  # a shortcut's: reaches the user even outside the channel
    auto: bool = False  # a share answered by the channel's auto mode: nobody asked

    @property
    def request_key(self) -> str:
        """What identifies this request among redeliveries."""
        return self.key or self.message_ts

    @property
    def thread(self) -> ThreadRef:
        """The thread this message belongs to (its own ts if it starts one)."""
        return ThreadRef(team_id=self.team_id, channel_id=self.channel_id, thread_ts=self.thread_ts)

    @property
    def ids(self) -> str:
        """Slack ids for log lines."""
        return f"team={self.team_id} channel={self.channel_id} ts={self.message_ts} {self.action}"


class FileRef(BaseModel):
    """A prepared file as Claude knows it: where it came from and how it was uploaded."""

    slack_file_id: str
    name: str
    media_type: str
    sha256: str
    claude_file_id: str
    kind: Literal["image", "document"] = "image"
    width: int | None = None
    height: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    size: int = 0  # bytes sent
    pages: int | None = None  # PDFs: Claude reads at most 100 pages per request
    url: str | None = None  # a public image link Claude fetches itself
    # A long image goes as overlapping parts: this one's number (from 1), how many, and the
    # box it shows in the original's upright pixels (left, top, right, bottom).
    part: int | None = None
    parts: int | None = None
    crop: tuple[int, int, int, int] | None = None

    def same_file(self, other: FileRef) -> bool:
        """Whether both are parts of one long image."""
        return (
            self.parts is not None
            and other.parts == self.parts
            and other.slack_file_id == self.slack_file_id
            and other.name == self.name
        )


class Turn(BaseModel):
    """One message of a conversation with Claude, as stored in the thread's history."""

    role: Literal["user", "assistant"]
    text: str
    files: list[FileRef] = []
    message_ts: str | None = None
    user_id: str | None = None
