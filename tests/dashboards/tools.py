"""Finding the external tools these tests drive (promtool, prometheus, chromium): where
they are missing the tests skip, unless OVERSIGHT_REQUIRE_TOOLS=1 (as .ci/run sets),
which makes a missing tool a failure."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_TOOLS = os.environ.get("OVERSIGHT_REQUIRE_TOOLS") == "1"


def tool(name: str, install: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed ({install})"
        if REQUIRE_TOOLS:
            pytest.fail(message + " and OVERSIGHT_REQUIRE_TOOLS=1")
        pytest.skip(message)
    return path
