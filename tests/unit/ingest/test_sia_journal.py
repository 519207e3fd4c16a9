"""The SIA receiver's journal: what was fdatasync'd comes back after a crash, once; confirmed entries go."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tocsin.errors import ConfigError, StoreUnavailable
from tocsin.ingest import sia_journal
from tocsin.ingest.sia_journal import JournalEntry, SiaJournal
from tocsin.model import Actor, EventIn

ACTOR = Actor(name="sia:1234", role="device")


def event(n: int) -> EventIn:
    return EventIn(type="intrusion.burglary", method="equipment", source="sia:1234", external_id=f"1234:{n:04d}:0:ab")


def append_all(journal: SiaJournal, batches: list[list[int]]) -> list[JournalEntry]:
    """Append each batch (event numbers) in turn, each waited for, as a receiver does frame by frame."""

    async def main() -> list[JournalEntry]:
        return [
            await journal.append(ACTOR, [event(n) for n in batch], [f"raw {n}" for n in batch]) for batch in batches
        ]

    return asyncio.run(main())


def numbers(entries: list[JournalEntry]) -> list[list[str | None]]:
    return [[e.external_id for e in entry.events] for entry in entries]


def segment_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".journal")


def test_entries_come_back_in_order_until_confirmed(tmp_path: Path) -> None:
    journal = SiaJournal(tmp_path)
    assert journal.open() == []
    written = append_all(journal, [[1, 2], [3], [4, 5, 6]])
    assert [e.seq for e in written] == [1, 2, 3]
    assert journal.pending_events == 6
    journal.close()

    again = SiaJournal(tmp_path)
    found = again.open()
    assert found == written  # actor, events and raw texts, as appended
    assert again.pending_events == 6
    again.confirm([1, 3])
    assert again.pending_events == 1
    again.close()

    # Confirmations are not written down: a segment with an entry still unconfirmed comes
    # back whole, and the engine recognises what it stored already by the external ids.
    third = SiaJournal(tmp_path)
    assert third.open() == written
    later = append_all(third, [[7]])
    assert later[0].seq > written[-1].seq  # sequence numbers never go back while entries remain
    third.confirm([1, 2, 3, later[0].seq])
    third.close()
    assert segment_files(tmp_path) == []
    assert SiaJournal(tmp_path).open() == []


def test_segments_roll_over_and_go_once_confirmed(tmp_path: Path) -> None:
    journal = SiaJournal(tmp_path, segment_bytes=1)  # every write starts a new segment
    journal.open()
    written = append_all(journal, [[1], [2], [3]])
    assert len(segment_files(tmp_path)) == 3
    journal.confirm([written[0].seq, written[2].seq])  # the third is being written: it stays
    assert segment_files(tmp_path) == [f"{written[1].seq:016d}.journal", f"{written[2].seq:016d}.journal"]
    journal.confirm([written[1].seq])
    assert segment_files(tmp_path) == [f"{written[2].seq:016d}.journal"]
    journal.close()  # all of it confirmed: gone with the close
    assert segment_files(tmp_path) == []


def test_appends_made_together_are_written_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[int] = []
    real = sia_journal._write_at

    def counting(fd: int | None, blob: bytes, offset: int) -> None:
        writes.append(len(blob))
        real(fd, blob, offset)

    monkeypatch.setattr(sia_journal, "_write_at", counting)
    journal = SiaJournal(tmp_path)
    journal.open()

    async def main() -> list[JournalEntry]:
        return list(await asyncio.gather(*(journal.append(ACTOR, [event(n)], [None]) for n in range(10))))

    entries = asyncio.run(main())
    journal.close()
    assert [e.seq for e in entries] == list(range(1, 11))
    assert len(writes) < 10  # the first goes alone, the rest wait for it and go in one
    assert numbers(SiaJournal(tmp_path).open()) == [[f"1234:{n:04d}:0:ab"] for n in range(10)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10_000), garbage=st.booleans())
def test_a_torn_write_costs_only_the_records_it_tore(
    tmp_path_factory: pytest.TempPathFactory, cut: int, garbage: bool
) -> None:
    """A crash mid-write leaves a prefix of the last write (the rest still the zeros the
    segment was preallocated with), or garbage where it stopped: the records wholly before
    the damage come back, in order, and appends go on after them in a new segment."""
    directory = tmp_path_factory.mktemp("journal")
    journal = SiaJournal(directory, segment_bytes=8192)
    journal.open()
    written = append_all(journal, [[n, n + 100] for n in range(8)])
    journal.close()
    (segment,) = directory.glob("*.journal")
    data = segment.read_bytes()
    assert len(data) == 8192  # preallocated
    ends = [0]
    for entry in written:
        ends.append(ends[-1] + sia_journal._HEADER.size + len(sia_journal._encode(entry)))
    cut %= ends[-1] + 1
    torn = bytearray(data[:cut]) + bytes(len(data) - cut)
    if garbage and cut < ends[-1]:
        torn[cut] = data[cut] ^ 0xFF
    segment.write_bytes(bytes(torn))

    reopened = SiaJournal(directory)
    found = reopened.open()
    whole = max(i for i, end in enumerate(ends) if end <= cut)
    assert found == written[:whole]
    assert segment.exists() == (whole > 0)  # a segment with nothing to confirm goes at once
    more = append_all(reopened, [[999]])
    assert more[0].seq > (found[-1].seq if found else 0)
    reopened.close()
    assert SiaJournal(directory).open() == [*found, *more]


def test_a_failed_write_breaks_the_journal_for_good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    journal = SiaJournal(tmp_path)
    journal.open()
    append_all(journal, [[1]])

    def failing(fd: int, /) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", failing)
    with pytest.raises(StoreUnavailable, match="Input/output error"):
        append_all(journal, [[2]])
    monkeypatch.undo()
    assert journal.broken is not None
    with pytest.raises(StoreUnavailable):
        append_all(journal, [[3]])  # after a failed fdatasync nothing more is trusted to it
    journal.close()


def test_one_process_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sia_journal, "LOCK_WAIT_S", 0.1)
    first = SiaJournal(tmp_path)
    first.open()
    with pytest.raises(ConfigError, match="in use by another process"):
        SiaJournal(tmp_path).open()
    first.close()
    second = SiaJournal(tmp_path)
    assert second.open() == []
    second.close()
