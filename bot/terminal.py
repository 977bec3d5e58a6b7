"""`vision-bot ask`: the same checks, uploads and requests as in Slack, from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from bot.claude.citations import sources_line
from bot.claude.client import claude_client, transport
from bot.claude.request import build_request, plan
from bot.claude.stream import stream_answer
from bot.claude.transport import Transport
from bot.config import Settings
from bot.decoders import Decoders
from bot.errors import FileRefused, UserFacingError
from bot.media import prepare as media
from bot.models import FileRef, Turn
from bot.options import PipelineOptions
from bot.store.connection import connect
from bot.templates import Templates

# The upload cache is per workspace; terminal runs share one of their own.
TERMINAL_WORKSPACE = "terminal"


async def ask(
    settings: Settings,
    templates: Templates,
    paths: list[Path],
    *,
    template_name: str | None,
    question: str,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Answer `question` about the files, streaming to `out`; the exit status."""
    if template_name and template_name not in templates:
        print(
            f"vision-bot: unknown template {template_name!r}; try: {', '.join(templates.names)}",
            file=err,
        )
        return 2
    template = templates.get(template_name)
    options = PipelineOptions.from_settings(settings)
    redis = connect(settings.redis_url, quiet=True)
    claude = claude_client(settings)
    store = transport(settings, claude, redis)
    try:
        try:
            refs, notes = await _prepare_files(paths, store, options.media, err, settings)
        except OSError as exc:
            print(f"vision-bot: {exc.filename}: {exc.strerror}", file=err)
            return 2
        if paths and not refs:
            return 1
        turn = Turn(role="user", text=question or template.question, files=refs)
        sent = plan([], turn)
        request = build_request(
            model=options.model,
            max_tokens=options.max_tokens,
            plan=sent,
            template_prompt=template.prompt,
            sources=await store.sources(TERMINAL_WORKSPACE, sent.sent_files()),
            automatic_cache=options.automatic_cache,
            citations=options.citations,
        )

        async def write(text: str) -> None:
            out.write(text)
            out.flush()

        answer = await stream_answer(claude, request, write)
        out.write("\n")
        documents = [ref.name for ref in sent.sent_files() if ref.kind == "document"]
        if sources := sources_line(answer.pages, documents):
            out.write(f"{sources}\n")
        for note in [f"Template: {template.name}", *notes]:
            print(f"— {note}", file=err)
        return 0
    except UserFacingError as exc:
        print(f"vision-bot: {exc.message}", file=err)
        return 1
    finally:
        await claude.close()
        await redis.aclose()


async def _prepare_files(
    paths: list[Path],
    store: Transport,
    limits: media.MediaLimits,
    err: TextIO,
    settings: Settings,
) -> tuple[list[FileRef], list[str]]:
    """Check and store each file as the bot would; refusals are told on `err`."""
    refs: list[FileRef] = []
    notes: list[str] = []
    if not paths:
        return refs, notes
    # In a worker process, within PREPARE_TIMEOUT_SECONDS, as in Slack: a file that decodes
    # for minutes is refused, not waited on.
    decoders = Decoders(1, settings.prepare_timeout_seconds)
    try:
        for path in paths:
            data = path.read_bytes()
            try:
                prepared = await decoders.prepare(path.name, data, limits)
            except FileRefused as exc:
                print(f"vision-bot: {exc.message}", file=err)
                continue
            for part in prepared.parts:
                file_id = await store.store(TERMINAL_WORKSPACE, part)
                refs.append(part.ref(source_id=str(path), stored_id=file_id))
            notes.extend(prepared.notes)
    finally:
        await decoders.close()
    return refs, notes


def list_templates(templates: Templates, out: TextIO = sys.stdout) -> int:
    """Print every loaded template with its description."""
    width = max(len(t.name) for t in templates)
    for template in templates:
        out.write(f"{template.name:<{width}}  {template.description}\n")
    return 0
