"""Loopback fakes of the Slack Web API, Slack's file host and the Claude API."""

from tests.fakes.claude_api import ApiError, FakeClaude, Upload
from tests.fakes.slack_api import FakeSlack, FileRequest, PostedMessage, SlackCall

__all__ = [
    "ApiError",
    "FakeClaude",
    "FakeSlack",
    "FileRequest",
    "PostedMessage",
    "SlackCall",
    "Upload",
]
