"""`make test`'s preflight: it names what the test suite needs and is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")


def _check_redis(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MAKE), "-s", "-C", str(ROOT), "check-redis", f"PYTHON={sys.executable}"],
        env={"PATH": path, "TEST_REDIS_URL": TEST_REDIS_URL},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.skipif(MAKE is None, reason="needs make")
def test_missing_redis_binaries_are_named_in_one_line(redis: object, tmp_path: Path) -> None:
    result = _check_redis(str(tmp_path))  # a PATH without redis-server and redis-cli

    assert result.returncode == 0  # the rest of the suite still runs
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("make: not found: redis-server redis-cli; the Sentinel and Cluster")


@pytest.mark.skipif(
    None in (MAKE, shutil.which("redis-server"), shutil.which("redis-cli")),
    reason="needs make, redis-server and redis-cli",
)
def test_nothing_is_said_when_the_redis_binaries_are_there(redis: object) -> None:
    result = _check_redis(os.environ["PATH"])

    assert result.returncode == 0
    assert result.stderr == ""
