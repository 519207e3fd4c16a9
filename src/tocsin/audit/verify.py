"""Verify an exported audit log: the record chain, the Merkle roots, the signed checkpoints.

An export is JSON Lines (UTF-8). Every line is an audit record object holding at least
``seq`` (its 0-based leaf index) and ``prev`` (the lower-case hex leaf hash of record
``seq - 1``, ``""`` for record 0), except checkpoint lines, ``{"checkpoint": "<signed
note>"}``. A record's leaf bytes are ``msgspec.json.encode(record, order="sorted")`` of
the whole object as it appears, and its leaf hash is RFC 6962's SHA-256(0x00 || bytes).

``verify_log`` streams the records once, in O(log n) memory: it checks the seq numbers
and the prev chain record by record (which names the first bad record after a plain
edit, deletion, insertion or reordering), feeds each leaf hash to a ``CompactRange``, and
compares the root at each checkpoint's size with the root that checkpoint signs (which
catches edits whose author also rewrote the prev chain, down to the range between two
checkpoints). Records after the last checkpoint are covered by no signature:
``VerifyReport.signed_size`` says how far the signatures reach. This module does not
read the database or decide which checkpoints to trust beyond the verifier key: callers
pass the records and every checkpoint they hold (from the export, the server, a
witness), and the more recent the last one, the more of the log is covered.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from tocsin.audit.checkpoint import Checkpoint, CheckpointError, Verifier, open_checkpoint
from tocsin.audit.merkle import EMPTY_ROOT, CompactRange, leaf_hash
from tocsin.errors import TocsinError

__all__ = (
    "REORDER_WINDOW",
    "ExportError",
    "VerifyReport",
    "leaf_bytes",
    "parse_export",
    "record_hash",
    "verify_export_file",
    "verify_log",
)

REORDER_WINDOW = 1000
"""Records read past a seq gap to tell a reordered record from a missing one."""

_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_decode = msgspec.json.Decoder().decode
_HEX64 = re.compile(r"[0-9a-f]{64}")


class ExportError(TocsinError):
    """A line of an exported audit log is not a record or checkpoint line; names the line."""

    status_code = 422
    code = "invalid_export"


class VerifyReport(msgspec.Struct, frozen=True):
    """The outcome of verifying an audit log.

    Attributes:
        ok: Every check passed.
        size: Records hashed before verification stopped (the whole log when ``ok``).
        first_bad: Seq of the first bad record, or the size where the log was cut short;
            None when the log is fine or the fault lies in the checkpoints themselves.
        problem: What is wrong, in plain English; None when ``ok``.
        root: Root of the ``size`` records hashed.
        signed_size: How many leading records a verified checkpoint covers.
    """

    ok: bool
    size: int
    first_bad: int | None = None
    problem: str | None = None
    root: bytes = EMPTY_ROOT
    signed_size: int = 0


def leaf_bytes(record: Mapping[str, Any]) -> bytes:
    """The leaf bytes of a record: its JSON with keys sorted at every level.

    The writer must hash exactly the object that gets exported: a value that JSON does
    not round-trip (a tuple, a datetime, NaN) changes form on export but not here, so
    build records from JSON types or decode them once before hashing.
    """
    return _encode_sorted(record if isinstance(record, dict) else dict(record))


def record_hash(record: Mapping[str, Any]) -> bytes:
    """The RFC 6962 leaf hash of a record (``prev`` of the next record, in hex)."""
    return leaf_hash(leaf_bytes(record))


# -- reading exports -------------------------------------------------------------------


def _parse_line(raw: bytes | str, lineno: int) -> dict[str, Any] | str | None:
    """One export line as a record, a checkpoint note, or None when blank."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError as exc:
            raise ExportError(f"line {lineno} is not valid UTF-8") from exc
    raw = raw.rstrip("\r\n")
    if not raw.strip():
        return None
    try:
        item = _decode(raw)
    except msgspec.DecodeError as exc:
        raise ExportError(f"line {lineno} is not valid JSON: {exc}") from exc
    if not isinstance(item, dict):
        raise ExportError(f"line {lineno} is not a JSON object")
    if "checkpoint" in item and "seq" not in item:
        note = item["checkpoint"]
        if len(item) != 1 or not isinstance(note, str):
            raise ExportError(f'line {lineno} is not a checkpoint line {{"checkpoint": "<signed note>"}}')
        return note
    return item


def parse_export(lines: Iterable[bytes | str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Split an export into its records and its checkpoint notes, in file order.

    Holds the whole log in memory; ``verify_export_file`` streams a file instead.

    Args:
        lines: The export's lines (an open file, or ``text.splitlines()``).

    Returns:
        The record objects and the signed checkpoint notes.

    Raises:
        ExportError: a line is not UTF-8, not JSON, not an object, or a bad checkpoint line.
    """
    records: list[dict[str, Any]] = []
    notes: list[str] = []
    for lineno, raw in enumerate(lines, 1):
        item = _parse_line(raw, lineno)
        if isinstance(item, str):
            notes.append(item)
        elif item is not None:
            records.append(item)
    return records, notes


def _file_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for lineno, raw in enumerate(lines, 1):
            item = _parse_line(raw, lineno)
            if isinstance(item, dict):
                yield item


def verify_export_file(path: Path, verifier: Verifier, *, origin: str | None = None) -> VerifyReport:
    """Verify an export file in two streaming passes (checkpoints, then records).

    Memory stays O(log n) however long the log. Blocking: run it off the event loop.

    Raises:
        ExportError: a line of the file is malformed (the message gives its number).
        OSError: the file cannot be read.
    """
    with path.open("rb") as lines:
        items = (_parse_line(raw, lineno) for lineno, raw in enumerate(lines, 1))
        notes = [item for item in items if isinstance(item, str)]
    return verify_log(_file_records(path), notes, verifier, origin=origin)


# -- verification ----------------------------------------------------------------------


def verify_log(
    records: Iterable[Mapping[str, Any]],
    checkpoints: Sequence[str],
    verifier: Verifier,
    *,
    origin: str | None = None,
) -> VerifyReport:
    """Verify an audit log's records against its signed checkpoints.

    Checks every checkpoint's signature; then, streaming the records, that seqs run
    0, 1, 2 … without gaps or repeats, that each ``prev`` is the previous record's leaf
    hash, that the root of the first ``size`` records equals each checkpoint's root, and
    that no checkpoint reaches past the end of the log. Stops at the first problem.

    Args:
        records: The records in log order (from ``parse_export`` or the database).
        checkpoints: Signed checkpoint notes, in any order.
        verifier: The log's checkpoint key.
        origin: If given, the log identity every checkpoint must name.

    Returns:
        The report; ``ok`` is False and ``problem`` says why when a check fails.
    """
    opened: list[tuple[int, Checkpoint]] = []
    for number, note in enumerate(checkpoints, 1):
        try:
            opened.append((number, open_checkpoint(note, verifier, origin=origin)))
        except CheckpointError as exc:
            if exc.bad_signature:
                return VerifyReport(ok=False, size=0, problem=f"bad signature on checkpoint {number}: {exc.detail}")
            return VerifyReport(ok=False, size=0, problem=f"checkpoint {number} cannot be used: {exc.detail}")
    problem = _checkpoints_disagree(opened)
    if problem is not None:
        return VerifyReport(ok=False, size=0, problem=problem)
    return _Walk(sorted(opened, key=lambda item: item[1].size)).run(iter(records))


def _checkpoints_disagree(opened: Sequence[tuple[int, Checkpoint]]) -> str | None:
    for (first_number, first), (number, cp) in itertools.combinations(opened, 2):
        if cp.origin != first.origin:
            return f"checkpoint {number} is for log {cp.origin!r}, checkpoint {first_number} {first.origin!r}"
        if cp.size == first.size and cp.root != first.root:
            return (
                f"checkpoint {number} is not consistent with checkpoint {first_number}: "
                f"both commit to {cp.size} records but with different roots"
            )
    return None


def _seq_problem(seq: int, expected: int, rest: Iterator[Mapping[str, Any]]) -> tuple[int, str]:
    """Name a seq anomaly at position ``expected``, looking a little ahead if needed."""
    if seq < expected:
        return seq, f"record {seq} appears twice (again after record {expected - 1})"
    for distance, record in enumerate(itertools.islice(rest, REORDER_WINDOW), 1):
        if isinstance(record, Mapping) and type(record.get("seq")) is int and record["seq"] == expected:
            later = "right after it" if distance == 1 else f"{distance} records later"
            return (
                expected,
                f"record {expected} is out of order: record {seq} comes first and it follows {later}",
            )
    if expected == 0:
        return 0, f"record 0 is missing (the log starts at record {seq})"
    return expected, f"record {expected} is missing (seq jumps from {expected - 1} to {seq})"


class _Walk:
    """One streaming pass over the records against checkpoints sorted by size."""

    def __init__(self, checkpoints: list[tuple[int, Checkpoint]]) -> None:
        self.checkpoints = checkpoints
        self.next = 0  # the first checkpoint not reached yet
        self.frontier = CompactRange()
        self.prev = ""
        self.signed = 0  # size of the largest checkpoint whose root matched
        self.signed_number = 0
        # A checkpoint whose root did not match: (number, last matching size, its size).
        # The next checkpoint decides whether records changed or the checkpoints disagree.
        self.pending: tuple[int, int, int] | None = None

    def fail(self, first_bad: int | None, problem: str) -> VerifyReport:
        return VerifyReport(
            ok=False,
            size=self.frontier.size,
            first_bad=first_bad,
            problem=problem,
            root=self.frontier.root(),
            signed_size=self.signed,
        )

    def run(self, records: Iterator[Mapping[str, Any]]) -> VerifyReport:
        failure = self.reach_checkpoints()
        if failure is None:
            for record in records:
                failure = self.take(record, records)
                if failure is not None and self.pending is not None:
                    # A checkpoint already failed: its range holds a bad record, which
                    # comes first unless the break is inside that range (then it is exact).
                    failure = self.earlier(failure, *self.pending)
                failure = failure or self.reach_checkpoints()
                if failure is not None:
                    break
        if failure is not None:
            return failure
        if self.pending is not None:
            return self.modified(*self.pending)
        if self.next < len(self.checkpoints):
            number, cp = self.checkpoints[-1]
            size = self.frontier.size
            return self.fail(size, f"log holds {size} records but checkpoint {number} commits to {cp.size}: cut short")
        return VerifyReport(ok=True, size=self.frontier.size, root=self.frontier.root(), signed_size=self.signed)

    def take(self, record: Mapping[str, Any], rest: Iterator[Mapping[str, Any]]) -> VerifyReport | None:
        """Check one record's seq and prev, then add its leaf."""
        expected = self.frontier.size
        seq = record.get("seq") if isinstance(record, Mapping) else None
        if type(seq) is not int or seq < 0:
            where = "the first record" if expected == 0 else f"the record after record {expected - 1}"
            return self.fail(expected, f"{where} has no valid seq (a non-negative integer)")
        if seq != expected:
            return self.fail(*_seq_problem(seq, expected, rest))
        prev = record.get("prev")
        if seq == 0:
            if prev != "":
                return self.fail(0, 'record 0 must have prev "": nothing comes before it')
        elif not isinstance(prev, str) or not _HEX64.fullmatch(prev):
            return self.fail(seq, f"record {seq} has no valid prev (64 lower-case hex digits)")
        elif prev != self.prev:
            if self.signed == seq:
                return self.fail(
                    seq,
                    f"record {seq} was modified or forged: its prev does not match record {seq - 1}, "
                    f"which checkpoint {self.signed_number} vouches for",
                )
            return self.fail(
                seq - 1,
                f"record {seq - 1} was modified or reordered: its hash does not match record {seq}'s prev",
            )
        value = record_hash(record)
        self.frontier.append(value)
        self.prev = value.hex()
        return None

    def reach_checkpoints(self) -> VerifyReport | None:
        """Check every checkpoint whose size the log has just reached."""
        size = self.frontier.size
        while self.next < len(self.checkpoints) and self.checkpoints[self.next][1].size == size:
            number, cp = self.checkpoints[self.next]
            self.next += 1
            if self.frontier.root() == cp.root:
                if self.pending is not None:
                    earlier = self.pending[0]
                    return self.fail(
                        None,
                        f"checkpoint {earlier} is not consistent with checkpoint {number}: the records "
                        f"match checkpoint {number}, so checkpoint {earlier} signed a different history",
                    )
                self.signed, self.signed_number = size, number
            elif self.pending is not None:
                return self.modified(*self.pending)
            else:
                self.pending = (number, self.signed, size)
        return None

    def earlier(self, failure: VerifyReport, number: int, low: int, size: int) -> VerifyReport:
        """The record failure, or the pending checkpoint's if that range comes first."""
        if failure.first_bad is not None and failure.first_bad < size:
            return failure
        return self.modified(number, low, size)

    def modified(self, number: int, low: int, size: int) -> VerifyReport:
        """The records since the last matching checkpoint do not give checkpoint ``number``'s root."""
        return self.fail(
            low,
            f"records {low} to {size - 1} do not match checkpoint {number}: one of them was modified, "
            "inserted or removed and the prev chain rewritten to hide it",
        )
