"""Suggested prompts for the Messages tab, made from the templates, and the picks they send."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.templates import BUILTINS, Template, Templates

MAX_PROMPTS = 4  # what Slack shows
TITLE = "Share a screenshot, photo or PDF and ask, or start with one of these:"
# The built-ins worth offering first, in this order, with a title that says the task.
TITLES = {
    "debug": "Explain an error screenshot",
    "ocr": "Transcribe a photo or scan",
    "ui-review": "Review a UI screenshot",
    "chart": "Turn a chart into a table",
    "diff": "Compare before and after",
    "locate": "Find something on screen",
    "describe": "Describe an image",
}
TITLE_LIMIT = 45
# A prompt's message ends with its template, so a pick maps back to it whatever the title
# says; Slack posts the message as the person's own words.
_MARKER = re.compile(r"\s*\(template: ([A-Za-z0-9_-]+)\)\s*$")


@dataclass(frozen=True)
class Pick:
    """A suggested prompt someone picked: its template and the question it asks."""

    template: Template
    question: str


class SuggestedPrompts:
    """Up to four prompts: the workspace's own templates first, then the built-ins' best."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def prompts(self) -> list[dict[str, str]]:
        """The {title, message} pairs for assistant.threads.setSuggestedPrompts."""
        builtin = {t.name for t in BUILTINS}
        own = [t for t in self.templates if t.name not in builtin]
        offered = [*own, *(self.templates.get(n) for n in TITLES if n in self.templates)]
        unique = list({t.name: t for t in offered}.values())[:MAX_PROMPTS]
        return [
            {"title": _title(t), "message": f"{_title(t)} (template: {t.name})"} for t in unique
        ]

    def picked(self, text: str) -> Pick | None:
        """The pick a message is, if it ends with a known template's marker."""
        match = _MARKER.search(text)
        if match is None or match.group(1).lower() not in self.templates:
            return None
        return Pick(self.templates.get(match.group(1).lower()), text[: match.start()].strip())


def invitation(template: Template) -> str:
    """The reply to a pick that came without anything to look at yet."""
    return (
        f"Sure. Share the screenshot, photo or PDF here, in this thread, and I'll answer "
        f"with the *{template.name}* template: {template.description}"
    )


def _title(template: Template) -> str:
    """A short title: the built-in's, else the template's description cut to fit."""
    if template.name in TITLES and template in BUILTINS:
        return TITLES[template.name]
    text = template.description.rstrip(".")
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 1].rstrip() + "…"
