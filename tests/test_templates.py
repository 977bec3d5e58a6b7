"""Templates: built-ins, TEMPLATES_FILE and its error messages, and the terminal commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.templates import BUILTINS, Templates
from tests import odd_files, samples
from tests.fakes import FakeClaude
from tests.processes import bot_env, run


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.yml"
    path.write_text(text)
    return path


def test_every_builtin_has_a_name_a_description_and_a_prompt() -> None:
    names = {t.name for t in BUILTINS}
    assert names >= {"describe", "debug", "ocr", "ui-review", "chart", "diff", "locate"}
    assert all(t.description and len(t.prompt) > 100 for t in BUILTINS)


def test_a_templates_file_adds_and_replaces(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "triage:\n"
        "  description: Classify a bug screenshot for the on-call rota.\n"
        "  prompt: You are triaging a bug report.\n"
        "ocr:\n"
        "  description: Our OCR.\n"
        "  prompt: Transcribe, but in French.\n",
    )
    templates = Templates.load(path)

    assert templates.get("triage").prompt == "You are triaging a bug report."
    assert templates.get("ocr").description == "Our OCR."
    assert "debug" in templates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ok:\n  description: d\n  prompt: a: b\n", "line 3: invalid YAML (mapping values"),
        ("- a list\n", "line 1: expected a mapping"),
        (
            "ok:\n  description: d\n  prompt: p\nbad:\n  description: d\n",
            "line 4, template 'bad': prompt",
        ),
        (
            "x:\n  description: d\n  prompt: p\n  colour: red\n",
            "line 1, template 'x': unknown key 'colour'",
        ),
        ("'no spaces please':\n  description: d\n  prompt: p\n", "letters, digits"),
        # Slack refuses a menu whose option value is over 150 characters (text over 75).
        (f"{'t' * 76}:\n  description: d\n  prompt: p\n", "at most 75 characters"),
        ("y: just a string\n", "line 1, template 'y': expected a mapping"),
    ],
)
def test_a_malformed_file_names_the_file_line_and_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Templates.load(write(tmp_path, text))
    assert str(error.value).startswith(f"TEMPLATES_FILE {tmp_path / 'templates.yml'}")
    assert expected in str(error.value)


async def test_ask_runs_the_pipeline_from_a_terminal(claude: FakeClaude, tmp_path: Path) -> None:
    shot = tmp_path / "IMG_0001.HEIC"
    shot.write_bytes(samples.heic((4032, 3024)))
    claude.reply = "It is an orange square."

    code, out, err = await run(
        "ask",
        str(shot),
        "--template",
        "debug",
        "what",
        "is",
        "this?",
        env=bot_env(claude=claude),
        cwd=tmp_path,
    )

    assert (code, out) == (0, "It is an orange square.\n"), err
    assert "Template: debug" in err
    (upload,) = claude.uploads
    assert upload.media_type == "image/jpeg"  # converted like in Slack
    (request,) = claude.requests
    assert "What failed" in request["system"]
    assert request["messages"][0]["content"][-1]["text"] == "what is this?"


async def test_ask_explains_refused_files_and_unknown_templates(
    claude: FakeClaude, tmp_path: Path
) -> None:
    archive = tmp_path / "logs.zip"
    archive.write_bytes(samples.zip_archive())

    code, _, err = await run("ask", str(archive), env=bot_env(claude=claude), cwd=tmp_path)
    assert code == 1 and "it is a ZIP archive" in err

    code, _, err = await run(
        "ask", str(archive), "-t", "nope", env=bot_env(claude=claude), cwd=tmp_path
    )
    assert code == 2 and "unknown template 'nope'" in err
    assert claude.requests == []


async def test_ask_refuses_a_file_that_decodes_too_long_instead_of_hanging(
    claude: FakeClaude, tmp_path: Path
) -> None:
    heavy = tmp_path / "heavy.png"
    heavy.write_bytes(odd_files.png_of_nothing(8000, 8000))  # 64 MP: seconds of decoding

    code, _, err = await run(
        "ask", str(heavy), env=bot_env(claude=claude, PREPARE_TIMEOUT_SECONDS="0.5"), cwd=tmp_path
    )

    assert code == 1 and "took longer than 0.5 seconds" in err, err
    assert claude.requests == []


async def test_templates_lists_built_ins_and_the_file(claude: FakeClaude, tmp_path: Path) -> None:
    write(tmp_path, "triage:\n  description: Classify bugs.\n  prompt: Triage.\n")
    env = bot_env(TEMPLATES_FILE=str(tmp_path / "templates.yml"))

    code, out, _ = await run("templates", env=env, cwd=tmp_path)

    assert code == 0
    assert "triage     Classify bugs." in out and "ocr " in out


async def test_a_malformed_templates_file_stops_startup(tmp_path: Path) -> None:
    write(tmp_path, "broken: [\n")
    env = bot_env(TEMPLATES_FILE=str(tmp_path / "templates.yml"))

    code, _, err = await run("templates", env=env, cwd=tmp_path)

    assert code == 2 and err.startswith("vision-bot: TEMPLATES_FILE") and "line" in err
