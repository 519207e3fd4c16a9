"""End-to-end fixtures: each test gets a fresh server process (and webhook receiver)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Receiver, ServerProcess


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def server(tmp_path: Path, receiver: Receiver) -> Iterator[ServerProcess]:
    config = f"""
[limits]
max_body_bytes = 65536
max_batch_events = 500

[[webhook]]
url = "{receiver.url}"
name = "test-hook"
min_priority = 4
max_attempts = 5
"""
    srv = ServerProcess(tmp_path, config)
    srv.start()
    yield srv
    srv.stop()
