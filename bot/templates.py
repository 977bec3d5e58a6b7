"""Prompt templates: named ways for Claude to look at an image (built-ins plus a YAML file)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.errors import ConfigError

DEFAULT_TEMPLATE = "describe"
MAX_NAME = 75  # Slack's limit for a menu option's text


@dataclass(frozen=True)
class Template:
    """A named system prompt, with the question asked when the user asks none."""

    name: str
    description: str
    prompt: str
    question: str = "Describe this and point out anything notable."


BUILTINS: tuple[Template, ...] = (
    Template(
        "describe",
        "Describe what the image shows and point out anything notable.",
        "Describe what the image or document shows, starting with what matters most to the "
        "person asking. Point out anything unusual, wrong or easy to miss. Be concrete: "
        "quote visible text exactly, name UI elements by their labels.",
    ),
    Template(
        "debug",
        "Error screenshots: what failed, the likely cause, and next steps.",
        "The image is most likely a screenshot of an error: a stack trace, a failing build, "
        "a browser console, an error dialog or a monitoring alert. Answer in three short "
        "sections: **What failed** (quote the key error line verbatim), **Likely cause** "
        "(the most probable explanation first, with what in the screenshot points to it, and "
        "alternatives if the evidence is thin) and **Next steps** (concrete commands, "
        "settings or code to check, in order). Do not invent details that are not visible; "
        "say what extra information (logs, versions) would settle it.",
        "What went wrong here, and how do I fix it?",
    ),
    Template(
        "ocr",
        "Transcribe all text verbatim, keeping the layout as Markdown.",
        "Transcribe every piece of text in the image or document verbatim, in reading order. "
        "Keep the layout with Markdown: headings, lists, tables (as Markdown tables), code "
        "(in code blocks, with indentation preserved). Do not summarise, correct or "
        "translate. Mark text you cannot read as [illegible]. For handwriting or "
        "whiteboards, keep arrows and groupings as nested lists. Add nothing after the "
        "transcription.",
        "Transcribe this.",
    ),
    Template(
        "ui-review",
        "Review a UI: usability, accessibility, contrast and hierarchy.",
        "Review the user interface in the image as an experienced product designer. Cover, "
        "in order of impact: usability problems (unclear actions, confusing flows, missing "
        "feedback), accessibility (contrast that likely fails WCAG AA, tiny hit targets, "
        "colour-only meaning, missing labels), visual hierarchy and alignment, and copy. "
        "For each issue say where it is on screen and suggest a specific fix. End with the "
        "two changes that would help most.",
        "Review this UI.",
    ),
    Template(
        "chart",
        "Turn a chart into a Markdown table, plus the takeaway.",
        "Read the chart in the image. First give its data as a Markdown table (one row per "
        "category or x value, columns per series, units in the header); estimate values "
        "read off the axes and mark them with ~. Then give the takeaway in two or three "
        "sentences: the trend, the outliers, and anything the chart's design exaggerates "
        "or hides (truncated axes, dual scales).",
        "What does this chart show?",
    ),
    Template(
        "diff",
        "What changed between two or more images (before/after).",
        "Compare the images in the order they were shared (the first is 'before'). List "
        "every visible difference: added, removed, moved, restyled or reworded elements, "
        "with where each is. Group related changes, most significant first. If the images "
        "look identical, say so and name any tiny differences you can find.",
        "What changed between these?",
    ),
    Template(
        "locate",
        "Find things on screen and mark them with numbered boxes.",
        "Find what the user asks about in the image(s). Refer to each region you mention by "
        "a number, like [1], [2]. After your answer, add one fenced ```json block listing "
        'the regions: [{"n": 1, "image": 1, "label": "short label", "box": [x0, y0, x1, '
        'y1]}], where image is N from the "Image N:" label before the image and '
        "box is in pixels of the image as you see it, x0 < x1 and y0 < y1, origin top left. "
        "Keep boxes tight around the element.",
        "Find and mark the most important elements.",
    ),
)


class Templates:
    """The templates a process knows: built-ins, then those of TEMPLATES_FILE."""

    def __init__(self, templates: tuple[Template, ...] = BUILTINS) -> None:
        self._by_name = {t.name: t for t in templates}

    def __iter__(self) -> Iterator[Template]:
        return iter(sorted(self._by_name.values(), key=lambda t: t.name))

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str | None) -> Template:
        """The named template, or the default one for an unknown or missing name."""
        return self._by_name.get(name or DEFAULT_TEMPLATE) or self._by_name[DEFAULT_TEMPLATE]

    @property
    def names(self) -> list[str]:
        """Every template name, sorted."""
        return sorted(self._by_name)

    @classmethod
    def load(cls, path: Path | None) -> Templates:
        """The built-ins plus the file's templates (a same name replaces the built-in)."""
        if path is None:
            return cls()
        return cls((*BUILTINS, *_read_file(path)))


def _read_file(path: Path) -> list[Template]:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"TEMPLATES_FILE {where} cannot be read: {exc.strerror}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"TEMPLATES_FILE {where}{line}: invalid YAML ({problem})") from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise ConfigError(
            f"TEMPLATES_FILE {where}, line 1: expected a mapping of template names to "
            "{description, prompt}"
        )
    lines = {key.value: key.start_mark.line + 1 for key, _ in root.value}
    return [_template(where, lines.get(str(name), 1), name, body) for name, body in data.items()]


def _template(where: str, line: int, name: object, body: object) -> Template:
    at = f"TEMPLATES_FILE {where}, line {line}, template {name!r}"
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{at}: names use letters, digits, - and _ only")
    if len(name) > MAX_NAME:
        # The name is a menu option's text and value under answers and in the modal.
        raise ConfigError(f"{at}: names are at most {MAX_NAME} characters (Slack's menus)")
    if not isinstance(body, dict):
        raise ConfigError(f"{at}: expected a mapping with description and prompt")
    unknown = set(body) - {"description", "prompt", "question"}
    if unknown:
        raise ConfigError(f"{at}: unknown key {sorted(unknown)[0]!r}")
    for key in ("description", "prompt"):
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise ConfigError(f"{at}: {key} must be a non-empty string")
    question = body.get("question", Template.question)
    if not isinstance(question, str):
        raise ConfigError(f"{at}: question must be a string")
    return Template(
        name.lower(), body["description"].strip(), body["prompt"].strip(), question.strip()
    )
