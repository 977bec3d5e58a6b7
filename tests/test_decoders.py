"""A time limit on preparing one file that really frees its worker (issue 10, item 7)."""

from __future__ import annotations

import os
import time

import pytest

from bot.decoders import Decoders
from bot.errors import FileRefused
from bot.media.prepare import MediaLimits
from tests import odd_files, samples
from tests.harness import Harness, answer
from tests.test_media import ask_about


async def test_a_file_over_the_time_limit_is_refused_and_its_worker_replaced() -> None:
    decoders = Decoders(workers=1, timeout=0.5)
    try:
        worker = await decoders.run("probe", os.getpid)

        started = time.monotonic()
        with pytest.raises(FileRefused) as refusal:
            await decoders.run("slow.pdf", time.sleep, 60)

        assert time.monotonic() - started < 10  # not the 60 s the work wanted
        assert refusal.value.name == "slow.pdf"
        assert "took longer than 0.5 seconds" in refusal.value.reason
        with pytest.raises(ProcessLookupError):
            os.kill(worker, 0)  # the worker that overran is gone, its memory with it
        assert await decoders.run("next", os.getpid) not in (worker, os.getpid())
    finally:
        await decoders.close()


async def test_a_file_that_kills_its_worker_is_refused_and_the_next_one_prepared() -> None:
    decoders = Decoders(workers=1, timeout=30)
    try:
        with pytest.raises(FileRefused, match="made my decoder fail"):
            await decoders.run("crash.png", os._exit, 9)
        prepared = await decoders.prepare("chart.png", samples.png(), MediaLimits())
        assert prepared.parts[0].data == samples.png()
    finally:
        await decoders.close()


@pytest.mark.parametrize("settings_overrides", [{"prepare_timeout_seconds": 0.5}])
async def test_a_file_that_decodes_too_long_is_refused_by_name_and_the_rest_answered(
    harness: Harness,
) -> None:
    heavy = odd_files.png_of_nothing(8000, 8000)  # 64 MP: seconds of decoding and resampling

    notes, answered = await ask_about(
        harness, ("heavy.png", heavy, "image/png"), ("chart.png", samples.png(), "image/png")
    )

    assert "*heavy.png*" in notes and "took longer than 0.5 seconds" in notes
    assert "PNG or JPEG" in notes
    assert answered == answer(1, 1)
