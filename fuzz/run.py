"""Run one fuzz target under atheris (libFuzzer), seeded from the test corpus.

Usage: ``.venv/bin/python -m fuzz.run TARGET [libFuzzer options]``, e.g.
``-max_total_time=60`` or ``-runs=100000``; ``--list`` names the targets. The seeds are
copied into ``var/fuzz/TARGET/`` (the working corpus, where libFuzzer also keeps the new
inputs it finds) and crashes land in ``var/fuzz/TARGET-crash-*`` (``TOCSIN_FUZZ_DIR``
moves both). A crash is a bug: add
the input to ``tests/unit/ingest/corpus/`` (named as that folder's README says) with the
fix, so the unit tests replay it for ever.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

__all__ = ("main",)

WORK = Path(os.environ.get("TOCSIN_FUZZ_DIR") or Path(__file__).resolve().parents[1] / "var" / "fuzz")
"""Working corpora and crash files (``TOCSIN_FUZZ_DIR`` overrides ``var/fuzz``)."""


def main(argv: list[str]) -> None:
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]  # optional: pip install atheris

    if len(argv) < 2 or argv[1].startswith("-"):
        raise SystemExit(__doc__)
    name, options = argv[1], argv[2:]
    with atheris.instrument_imports(include=["tocsin", "defusedxml", "fuzz"]):
        from fuzz.targets import TARGETS

    if name == "--list":
        for target in TARGETS.values():
            print(f"{target.name:15} {target.doc.splitlines()[0]}")
        return
    if name not in TARGETS:
        raise SystemExit(f"unknown target {name!r}; one of: {', '.join(TARGETS)}")
    target = TARGETS[name]
    corpus = WORK / name
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in target.seeds():
        (corpus / f"seed-{hashlib.sha1(seed).hexdigest()[:16]}").write_bytes(seed)
    flags = [a for a in options if a.startswith("-")]
    dirs = [a for a in options if not a.startswith("-")] or [str(corpus)]
    if not any(f.startswith("-artifact_prefix=") for f in flags):
        flags.append(f"-artifact_prefix={WORK / name}-crash-")
    atheris.Setup([argv[0], *flags, *dirs], target.run)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
