"""The export verifier: a 50-record log with three checkpoints, tampered every way we know."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tocsin.audit.checkpoint import Checkpoint, Signer, sign_checkpoint
from tocsin.audit.merkle import CompactRange, root
from tocsin.audit.verify import (
    ExportError,
    VerifyReport,
    leaf_bytes,
    parse_export,
    record_hash,
    verify_export_file,
    verify_log,
)

ORIGIN = "tocsin.example/audit"
SIZE = 50
SIGNED_AT = (15, 30, 45)  # checkpoints 1, 2, 3; records 45…49 are not signed yet

Record = dict[str, Any]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def chain(records: list[Record], start: int = 0) -> list[Record]:
    """Set every ``prev`` from ``start`` on, as an honest writer (or a thorough forger) would."""
    for seq in range(start, len(records)):
        records[seq]["prev"] = record_hash(records[seq - 1]).hex() if seq else ""
    return records


def make_records(count: int = SIZE) -> list[Record]:
    records = [
        {
            "seq": seq,
            "prev": "",
            "at": f"2025-01-01T00:00:{seq:02d}Z",
            "operation": "consultation",
            "action": "incident.view",
            "actor": f"user:{seq % 4}",
            "role": "operator",
            "objects": {"incident": [seq, [seq + 100, seq + 110]]},
            "justification": {"purpose": "emergency_response", "case": f"C-{seq}"},
            "detail": {"ratio": seq / 7, "ok": seq % 2 == 0, "note": 'é \u2028 "quoted"'},
        }
        for seq in range(count)
    ]
    return chain(records)


def checkpoints(records: list[Record], signer: Signer, sizes: tuple[int, ...] = SIGNED_AT) -> list[str]:
    leaves = [record_hash(record) for record in records]
    return [sign_checkpoint(Checkpoint(ORIGIN, size, root(leaves[:size])), signer) for size in sizes]


def export(records: list[Record], notes: list[str], sizes: tuple[int, ...] = SIGNED_AT) -> list[bytes]:
    """JSON Lines with each checkpoint line right after the record that completed it."""
    lines: list[bytes] = []
    for position, record in enumerate(records):
        lines.append(msgspec.json.encode(record))
        lines.extend(
            msgspec.json.encode({"checkpoint": n}) for n, s in zip(notes, sizes, strict=False) if s == position + 1
        )
    return lines


@pytest.fixture(scope="module")
def honest(signer: Signer) -> tuple[list[Record], list[str]]:
    records = make_records()
    return records, checkpoints(records, signer)


def run(records: list[Record], notes: list[str], signer: Signer) -> VerifyReport:
    parsed, found = parse_export(export(records, notes))
    assert found == notes
    return verify_log(parsed, found, signer.verifier(), origin=ORIGIN)


def fresh(honest: tuple[list[Record], list[str]]) -> tuple[list[Record], list[str]]:
    return copy.deepcopy(honest[0]), list(honest[1])


# -- the honest log --------------------------------------------------------------------


def test_an_untampered_log_verifies(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = honest
    report = run(records, notes, signer)
    assert report == VerifyReport(
        ok=True, size=SIZE, root=root([record_hash(r) for r in records]), signed_size=SIGNED_AT[-1]
    )


def test_leaf_bytes_are_sorted_json_whatever_the_line_looks_like() -> None:
    record = {"seq": 1, "prev": "", "b": {"z": 1, "a": [1.5, None]}}
    assert leaf_bytes(record) == b'{"b":{"a":[1.5,null],"z":1},"prev":"","seq":1}'
    pretty = '{ "seq" : 1, "b" : { "z" : 1, "a" : [ 15e-1, null ] }, "prev" : "" }'
    assert record_hash(parse_export([pretty])[0][0]) == record_hash(record)


def test_a_file_streams_in_two_passes(honest: tuple[list[Record], list[str]], signer: Signer, tmp_path: Path) -> None:
    records, notes = honest
    path = tmp_path / "audit.jsonl"
    # Checkpoints at the end, as 'tocsin audit export' writes them, and a trailing blank line.
    lines = export(records, []) + [msgspec.json.encode({"checkpoint": note}) for note in notes]
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    assert verify_export_file(path, signer.verifier()).ok
    assert verify_export_file(path, signer.verifier()) == run(records, notes, signer)


def test_the_empty_log_verifies_against_an_empty_checkpoint(signer: Signer) -> None:
    note = checkpoints([], signer, sizes=(0,))
    assert verify_log([], note, signer.verifier()).ok


# -- tampering with records ------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 14, 20, 44])
def test_a_modified_record_is_named(honest: tuple[list[Record], list[str]], signer: Signer, k: int) -> None:
    records, notes = fresh(honest)
    records[k]["actor"] = "user:mallory"
    report = run(records, notes, signer)
    assert not report.ok and report.first_bad == k
    assert report.problem == f"record {k} was modified or reordered: its hash does not match record {k + 1}'s prev"


def test_a_modified_last_record_is_not_covered_by_any_signature(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # Nothing after it and no checkpoint over it: the report shows how far signatures reach.
    records, notes = fresh(honest)
    records[-1]["actor"] = "user:mallory"
    report = run(records, notes, signer)
    assert report.ok and report.signed_size == 45 < report.size


@pytest.mark.parametrize("k", [1, 20, 45])
def test_a_deleted_record_is_named(honest: tuple[list[Record], list[str]], signer: Signer, k: int) -> None:
    records, notes = fresh(honest)
    del records[k]
    report = run(records, notes, signer)
    assert report.first_bad == k
    assert report.problem == f"record {k} is missing (seq jumps from {k - 1} to {k + 1})"


def test_a_deleted_first_record_is_named(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    del records[0]
    report = run(records, notes, signer)
    assert (report.first_bad, report.problem) == (0, "record 0 is missing (the log starts at record 1)")


def forged(after: Record, seq: int) -> Record:
    return {
        "seq": seq,
        "prev": record_hash(after).hex(),
        "action": "incident.delete",
        "actor": "user:mallory",
    }


def test_an_inserted_record_is_named(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    records.insert(21, forged(records[20], 21))
    report = run(records, notes, signer)
    assert (report.first_bad, report.problem) == (21, "record 21 appears twice (again after record 21)")


def test_an_inserted_record_with_the_rest_renumbered_is_named(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    records, notes = fresh(honest)
    records.insert(21, forged(records[20], 21))
    for seq in range(22, len(records)):
        records[seq]["seq"] = seq
    report = run(records, notes, signer)
    assert report.first_bad == 21
    assert report.problem == "record 21 was modified or reordered: its hash does not match record 22's prev"


def test_swapped_records_are_named(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    records[20], records[21] = records[21], records[20]
    report = run(records, notes, signer)
    assert report.first_bad == 20
    assert report.problem == "record 20 is out of order: record 21 comes first and it follows right after it"


def test_swapped_and_renumbered_records_are_localised_to_a_pair(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # A broken link between records j and j + 1 cannot say which of the two changed.
    records, notes = fresh(honest)
    records[20], records[21] = records[21], records[20]
    records[20]["seq"], records[21]["seq"] = 20, 21
    report = run(records, notes, signer)
    assert report.first_bad == 19
    assert report.problem == "record 19 was modified or reordered: its hash does not match record 20's prev"


def test_a_broken_link_right_after_a_checkpoint_blames_the_later_record(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # Record 29 is vouched for by checkpoint 2 (size 30), so record 30 must be the bad one.
    records, notes = fresh(honest)
    del records[30]
    for seq in range(30, len(records)):
        records[seq]["seq"] = seq
    report = run(records, notes, signer)
    assert report.first_bad == 30
    assert report.problem is not None and "record 30 was modified or forged" in report.problem


def test_truncation_below_the_last_checkpoint_is_caught(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    parsed, found = parse_export(export(records[:40], notes))
    report = verify_log(parsed, notes, signer.verifier())
    assert (report.ok, report.first_bad, report.size, report.signed_size) == (False, 40, 40, 30)
    assert report.problem == "log holds 40 records but checkpoint 3 commits to 45: cut short"


def test_a_rewritten_chain_is_caught_by_the_checkpoint_root(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # The forger fixes every prev after the edit; only the signed roots can tell, and only
    # down to the records between the last good checkpoint (15) and the first bad one (30).
    records, notes = fresh(honest)
    records[20]["actor"] = "user:mallory"
    chain(records, 21)
    report = run(records, notes, signer)
    assert (report.first_bad, report.signed_size) == (15, 15)
    assert report.problem == (
        "records 15 to 29 do not match checkpoint 2: one of them was modified, "
        "inserted or removed and the prev chain rewritten to hide it"
    )


def test_a_partly_rewritten_chain_is_blamed_on_the_failing_checkpoint_range(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # The forger repaired prev only up to record 35: the break at 35/36 comes after the
    # range checkpoint 2 already failed on, so that earlier range is reported.
    records, notes = fresh(honest)
    records[20]["actor"] = "user:mallory"
    tail = copy.deepcopy(records[36:])
    records = chain(records, 21)[:36] + tail
    report = run(records, notes, signer)
    assert (report.first_bad, report.size) == (15, 36)
    assert report.problem is not None and report.problem.startswith("records 15 to 29 do not match checkpoint 2")


def test_a_rewritten_unsigned_tail_goes_unnoticed(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    records[47]["actor"] = "user:mallory"
    chain(records, 48)
    report = run(records, notes, signer)
    assert report.ok and report.signed_size == 45


@pytest.mark.parametrize(
    ("field", "value", "first_bad", "problem"),
    [
        ("seq", "12", 12, "the record after record 11 has no valid seq (a non-negative integer)"),
        ("seq", True, 12, "the record after record 11 has no valid seq (a non-negative integer)"),
        ("prev", "ABC", 12, "record 12 has no valid prev (64 lower-case hex digits)"),
        ("prev", None, 12, "record 12 has no valid prev (64 lower-case hex digits)"),
    ],
)
def test_malformed_record_fields_are_named(
    honest: tuple[list[Record], list[str]],
    signer: Signer,
    field: str,
    value: object,
    first_bad: int,
    problem: str,
) -> None:
    records, notes = fresh(honest)
    records[12][field] = value
    report = run(records, notes, signer)
    assert (report.first_bad, report.problem) == (first_bad, problem)


def test_record_zero_has_no_predecessor(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    records[0]["prev"] = "0" * 64
    report = run(records, notes, signer)
    assert report.first_bad == 0


# -- tampering with checkpoints --------------------------------------------------------


def test_a_replaced_checkpoint_signature_is_caught(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    impostor = Signer.generate(ORIGIN)
    notes[1] = checkpoints(records, impostor)[1]
    report = run(records, notes, signer)
    assert (report.ok, report.first_bad) == (False, None)
    assert report.problem is not None and report.problem.startswith("bad signature on checkpoint 2: ")


def test_a_checkpoint_signed_over_another_history_is_inconsistent(
    honest: tuple[list[Record], list[str]], signer: Signer
) -> None:
    # The log's own key signed checkpoint 2 over a history the records (and checkpoint 3) deny.
    records, notes = fresh(honest)
    other = chain([*copy.deepcopy(records[:30])], 0)
    other[20]["actor"] = "user:mallory"
    notes[1] = checkpoints(chain(other, 21), signer, sizes=(30,))[0]
    report = run(records, notes, signer)
    assert report.first_bad is None
    assert report.problem == (
        "checkpoint 2 is not consistent with checkpoint 3: the records match checkpoint 3, "
        "so checkpoint 2 signed a different history"
    )


def test_two_checkpoints_of_one_size_must_agree(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    fork = sign_checkpoint(Checkpoint(ORIGIN, 30, root([record_hash(r) for r in records[1:31]])), signer)
    report = verify_log(records, [*notes, fork], signer.verifier())
    assert report.problem == (
        "checkpoint 4 is not consistent with checkpoint 2: both commit to 30 records but with different roots"
    )


def test_checkpoints_of_another_log_are_refused(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    report = verify_log(records, notes, signer.verifier(), origin="tocsin.example/other")
    assert report.problem is not None and report.problem.startswith("checkpoint 1 cannot be used: ")


def test_checkpoints_are_checked_in_size_order(honest: tuple[list[Record], list[str]], signer: Signer) -> None:
    records, notes = fresh(honest)
    assert verify_log(records, notes[::-1], signer.verifier()).ok


def test_the_frontier_of_the_walk_matches_the_writer(honest: tuple[list[Record], list[str]]) -> None:
    records, _ = honest
    frontier = CompactRange.from_leaves(record_hash(record) for record in records)
    assert verify_log(records, [], Signer.generate(ORIGIN).verifier()).root == frontier.root()


# -- malformed exports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "line 2 is not valid JSON"),
        (b"[1, 2]", "line 2 is not a JSON object"),
        (b'{"seq": 1, "prev": "\xff"}', "line 2 is not valid UTF-8"),
        (b'{"checkpoint": "x", "extra": 1}', "line 2 is not a checkpoint line"),
        (b'{"checkpoint": 7}', "line 2 is not a checkpoint line"),
    ],
)
def test_a_malformed_line_is_named(line: bytes, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        parse_export([b'{"seq": 0, "prev": ""}\n', line, b'{"seq": 1}'])


def test_str_lines_and_crlf_endings_are_accepted() -> None:
    records, notes = parse_export(['{"seq": 0, "prev": ""}\r\n', "\n", '{"checkpoint": "n"}\n'])
    assert (records, notes) == ([{"seq": 0, "prev": ""}], ["n"])
