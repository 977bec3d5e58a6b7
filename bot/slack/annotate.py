"""Post `locate` answers you can see: the original image with numbered boxes, in the thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import PurePath

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FileRefused
from bot.media import locate
from bot.models import FileRef, Job, SlackFile
from bot.slack.files import SlackFileFetcher
from bot.slack.text import inert

logger = logging.getLogger(__name__)


class Annotator:
    """Draws Claude's boxes on the images they belong to and uploads the result."""

    def __init__(
        self,
        slack: AsyncWebClient,
        fetcher: SlackFileFetcher,
        *,
        in_flight: asyncio.Semaphore,
        draw: Callable[[str, bytes, list[locate.Box]], Awaitable[bytes]],
    ) -> None:
        self.slack = slack
        self.fetcher = fetcher
        self.in_flight = in_flight  # the pipeline's bound on files in memory
        self.draw = draw  # locate.draw, where files are decoded (in a worker, time-limited)

    async def post(self, job: Job, images: list[FileRef], located: locate.Located) -> list[str]:
        """Upload one annotated image per image with boxes; notes on what went wrong."""
        notes = []
        for index, boxes in sorted(located.boxes.items()):
            ref = images[index]
            if ref.url:
                notes.append(f"I can only mark up images shared in Slack, not {ref.url}.")
                continue
            try:
                async with self.in_flight:
                    source = SlackFile(id=ref.slack_file_id, name=ref.name)
                    original = await self.fetcher.fetch(source)
                    png = await self.draw(ref.name, original, boxes)
                    del original
                await self.slack.files_upload_v2(
                    channel=job.channel_id,
                    thread_ts=job.thread_ts,
                    file=png,
                    filename=f"{PurePath(ref.name).stem}-located.png",
                    title=inert(f"{ref.name}: regions {', '.join(str(b.n) for b in boxes)}"),
                )
            except FileRefused as exc:
                notes.append(f"I couldn't mark up {ref.name}: {exc.reason}")
            except SlackApiError as exc:
                logger.warning("annotated upload failed (%s): %s", exc.response["error"], job.ids)
                notes.append(
                    f"I couldn't upload the marked-up {ref.name} (`{exc.response['error']}`); "
                    "the app needs the `files:write` scope."
                )
            except Exception:
                # The answer is already in the thread: a failed drawing is a note, not an error.
                logger.exception("drawing the boxes on %s failed: %s", ref.name, job.ids)
                notes.append(f"I couldn't draw the boxes on {ref.name}.")
        return notes
