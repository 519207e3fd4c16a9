"""Byte-level mutations of a seed body for the parsers' fuzz tests (flip, cut, insert, delete).

Each parser's test gives its own seeds and the tokens worth inserting (its format's
delimiters), so hypothesis explores near-valid inputs where parser bugs live.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st


def mutate(draw: st.DrawFn, seed: bytes, inserts: Sequence[bytes]) -> bytes:
    """One to six random edits of ``seed``; ``insert`` edits put one of ``inserts`` in."""
    body = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, max(0, len(body) - 1)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        if action == "flip" and body:
            body[where] = draw(st.integers(0, 255))
        elif action == "cut":
            del body[where:]
        elif action == "insert":
            body[where:where] = draw(st.sampled_from(list(inserts)))
        elif body:
            del body[where : where + draw(st.integers(1, 20))]
    return bytes(body)
