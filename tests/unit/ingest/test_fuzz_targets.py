"""The atheris harness (``fuzz/``): every target passes on its seeds, and the corpus feeds it.

atheris itself is optional: when it is installed a short smoke run proves the harness
starts and runs; the coverage-guided runs are ``python -m fuzz.run`` (``fuzz/README.md``).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.targets import CORPUS, TARGETS, seeds_of

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_passes_on_every_seed(name: str) -> None:
    seeds = seeds_of(name)
    assert seeds, f"{name} has no seeds"
    for seed in seeds:
        TARGETS[name].run(seed)


def test_every_corpus_file_seeds_a_target() -> None:
    seeds = {seed for name in TARGETS for seed in seeds_of(name)}
    seeds |= {seed[1:] for seed in seeds} | {seed[2:] for seed in seeds}  # without the mode byte(s)
    corpus = [p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"]
    assert corpus
    assert [p.name for p in corpus if p.read_bytes() not in seeds] == []


def test_targets_ignore_empty_and_tiny_inputs() -> None:
    for target in TARGETS.values():
        for data in (b"", b"\x00", b"\x01\x02", b"\n\r"):
            target.run(data)


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed (optional)")
def test_atheris_smoke_run(tmp_path: Path) -> None:
    env = {**os.environ, "TOCSIN_FUZZ_DIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "fuzz.run", "sia_frame", "-runs=2000", "-seed=1"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 2000 runs" in done.stderr
    assert any((tmp_path / "sia_frame").iterdir())
