"""Who people are in the workspace (users.info): names and admin roles, cached briefly."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)

# A promotion or demotion takes effect within this long; a burst of commands costs one call.
CACHE_SECONDS = 300.0


@dataclass(frozen=True)
class Person:
    """What the bot needs to know about a Slack user."""

    user_id: str
    name: str
    workspace_admin: bool  # an admin or owner of the workspace


class SlackPeople:
    """users.info (scope users:read), remembered for a few minutes per person."""

    def __init__(self, slack: AsyncWebClient, *, cache_seconds: float = CACHE_SECONDS) -> None:
        self.slack = slack
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Person]] = {}

    async def get(self, user_id: str) -> Person:
        """The person (a nameless non-admin if Slack won't say: roles are never guessed up)."""
        cached = self._cache.get(user_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = await self.slack.users_info(user=user_id)
        except SlackApiError as exc:
            logger.warning("users.info %s failed (%s)", user_id, exc.response.get("error"))
            return Person(user_id, user_id, workspace_admin=False)
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or user.get("real_name") or user.get("name") or user_id
        # Shown in notes the bot posts: a name must not turn into a mention or a link.
        name = re.sub(r"[<>&]", "", str(name)).strip() or user_id
        admin = any(user.get(role) for role in ("is_admin", "is_owner", "is_primary_owner"))
        person = Person(user_id, name, workspace_admin=bool(admin))
        self._cache[user_id] = (time.monotonic() + self.cache_seconds, person)
        return person
