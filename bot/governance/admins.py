"""Who may change the bot's settings and see the workspace's figures."""

from __future__ import annotations

from bot.slack.people import SlackPeople


class Admins:
    """ADMIN_USERS plus the workspace's admins and owners (users.info)."""

    def __init__(self, configured: tuple[str, ...], people: SlackPeople) -> None:
        self.configured = configured
        self.people = people

    @property
    def restricted(self) -> bool:
        """Whether settings are for admins only (ADMIN_USERS is set); else anyone may."""
        return bool(self.configured)

    async def is_admin(self, user_id: str) -> bool:
        """An admin of the bot: named in ADMIN_USERS, or an admin or owner of the workspace."""
        if user_id in self.configured:
            return True
        return (await self.people.get(user_id)).workspace_admin

    async def may_change_settings(self, user_id: str) -> bool:
        """Anyone while ADMIN_USERS is unset, else only admins."""
        return not self.restricted or await self.is_admin(user_id)

    def mentions(self) -> str:
        """The admins as mentions, for a reply only the person asking sees."""
        named = ", ".join(f"<@{u}>" for u in self.configured)
        return f"{named} or an admin of this workspace" if named else "an admin of this workspace"

    async def names(self) -> str:
        """The admins by name, for a message the channel sees (no mention to ping them)."""
        names = [(await self.people.get(u)).name for u in self.configured]
        return ", ".join(names) if names else "an admin of this workspace"
