"""CRC-16/ARC, the LF…CR envelope, and FrameBuffer reassembly of a TCP stream."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.ingest.sia_codec import parse_frame
from tocsin.ingest.sia_framing import MAX_FRAME_BYTES, FrameBuffer, crc16_arc, encode_frame

ACK = b'A62A0012"ACK"0001L0#7099[]'
NULL = b'1D85002B"NULL"0001L0#00653210[]_09:17:32,05-18-2016'
SIADCS = b'F4D20029"SIA-DCS"0001RF3L77#1234[#1234|NRR|Atest]'
FRAMES = [ACK, NULL, SIADCS]


def wire(*frames: bytes) -> bytes:
    return b"".join(b"\n" + frame + b"\r" for frame in frames)


def _bitwise_crc(data: bytes) -> int:
    """The textbook definition (PROTOCOLS.md 1.3), one bit at a time."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@given(st.binary(max_size=300))
def test_crc16_arc_equals_the_bitwise_definition(data: bytes) -> None:
    assert crc16_arc(data) == _bitwise_crc(data)
    assert crc16_arc(bytearray(data)) == _bitwise_crc(data)


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_arc(b"") == 0


def test_crc_is_arc_not_ccitt() -> None:
    # Several "DC-09" implementations compute CRC-16/CCITT (0x1021); its check value differs.
    assert crc16_arc(b"123456789") not in (0x29B1, 0x31C3, 0x2189)
    assert crc16_arc(b'"ACK"0001L0#7099[]') == 0xA62A


def test_encode_frame_matches_known_frame() -> None:
    assert encode_frame(b'"SIA-DCS"0001RF3L77#1234[#1234|NRR|Atest]') == b"\n" + SIADCS + b"\r"


def test_encode_frame_binary_crc_is_two_big_endian_bytes() -> None:
    frame = encode_frame(b'"ACK"0001L0#7099[]', binary_crc=True)
    assert frame == b"\n\xa6\x2a0012" + b'"ACK"0001L0#7099[]' + b"\r"


def test_encode_frame_rejects_a_body_the_length_field_cannot_hold() -> None:
    try:
        encode_frame(b'"NULL"' + b"x" * 0x1000)
    except ValueError as exc:
        assert "0xFFF" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_one_byte_chunks() -> None:
    buffer = FrameBuffer()
    out = [frame for byte in wire(*FRAMES) for frame in buffer.feed(bytes([byte]))]
    assert out == FRAMES
    assert len(buffer) == 0


def test_coalesced_frames_in_one_read() -> None:
    assert FrameBuffer().feed(wire(*FRAMES)) == FRAMES


def test_split_anywhere() -> None:
    stream = wire(*FRAMES)
    for cut in range(len(stream) + 1):
        buffer = FrameBuffer()
        assert buffer.feed(stream[:cut]) + buffer.feed(stream[cut:]) == FRAMES


def test_trailing_nuls_are_dropped_silently() -> None:
    discards: list[tuple[str, int]] = []
    buffer = FrameBuffer(on_discard=lambda reason, n: discards.append((reason, n)))
    assert buffer.feed(b"\n" + ACK + b"\r\x00\x00\x00" + b"\n" + NULL + b"\r\x00") == [ACK, NULL]
    assert buffer.junk_bytes == 0
    assert discards == []


def test_junk_between_frames_is_discarded_and_reported() -> None:
    discards: list[tuple[str, int]] = []
    buffer = FrameBuffer(on_discard=lambda reason, n: discards.append((reason, n)))
    assert buffer.feed(b"garbage" + wire(ACK) + b"\r\r more" + wire(NULL)) == [ACK, NULL]
    assert buffer.junk_bytes == len(b"garbage") + len(b"\r\r more")
    assert {reason for reason, _ in discards} == {"junk"}


def test_frame_interrupted_by_a_new_lf_is_dropped() -> None:
    buffer = FrameBuffer()
    assert buffer.feed(b"\n1234" + wire(ACK)) == [ACK]
    assert buffer.junk_bytes == len(b"\n1234")


def test_empty_frame_is_skipped() -> None:
    assert FrameBuffer().feed(b"\n\r" + wire(ACK)) == [ACK]


def test_oversize_frame_is_discarded_then_the_stream_recovers() -> None:
    discards: list[tuple[str, int]] = []
    buffer = FrameBuffer(max_frame=64, on_discard=lambda reason, n: discards.append((reason, n)))
    big = b'0000FFFF"SIA-DCS"0001L0#1234[' + b"x" * 200 + b"]"
    out: list[bytes] = []
    for start in range(0, len(big) + 2, 16):  # arrives in pieces, no CR for a long time
        out += buffer.feed((b"\n" + big + b"\r")[start : start + 16])
    out += buffer.feed(wire(ACK))
    assert out == [ACK]
    assert buffer.oversize_frames == 1
    assert [reason for reason, _ in discards] == ["oversize"]  # its tail is not reported as junk
    assert buffer.junk_bytes == 0
    assert len(buffer) <= 64 + 16


def test_oversize_frame_complete_in_one_read_is_discarded() -> None:
    buffer = FrameBuffer(max_frame=20)
    assert buffer.feed(wire(NULL, ACK)) == []
    assert buffer.oversize_frames == 2


def test_default_bound_admits_the_largest_legal_frame() -> None:
    body = b'"NULL"0001L0#1234[' + b"x" * (0xFFF - 19) + b"]"
    frame = encode_frame(body)
    assert len(frame) - 2 == MAX_FRAME_BYTES
    assert FrameBuffer().feed(frame) == [frame[1:-1]]


def _binary_crc_frame(byte: int) -> bytes:
    """A binary-CRC frame whose CRC contains ``byte`` (LF or CR), by trying sequences."""
    for seq in range(10000):
        frame = encode_frame(b'"NULL"%04dL0#1234[]' % seq, binary_crc=True)
        if byte in frame[1:3]:
            return frame
    raise AssertionError("no sequence gives such a CRC")


def test_binary_crc_containing_cr_or_lf_is_not_a_frame_boundary() -> None:
    for byte in (0x0A, 0x0D):
        frame = _binary_crc_frame(byte)
        buffer = FrameBuffer()
        out = [f for b in frame + wire(ACK) for f in buffer.feed(bytes([b]))]
        assert out == [frame[1:-1], ACK]
        parsed = parse_frame(out[0])
        assert parsed.binary_crc and parsed.crc_ok and parsed.length_ok


@st.composite
def chunked(draw: st.DrawFn) -> tuple[list[bytes], list[bytes]]:
    frames = draw(st.lists(st.sampled_from(FRAMES), max_size=8))
    stream = b"".join(b"\n" + f + b"\r" + draw(st.sampled_from([b"", b"\x00", b"\x00\x00"])) for f in frames)
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    return frames, pieces


@settings(max_examples=300, deadline=None)
@given(chunked())
def test_any_chunking_yields_exactly_the_frames(case: tuple[list[bytes], list[bytes]]) -> None:
    frames, pieces = case
    buffer = FrameBuffer()
    assert [f for piece in pieces for f in buffer.feed(piece)] == frames
    assert buffer.junk_bytes == 0
    assert len(buffer) == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_arbitrary_bytes_never_break_the_buffer(pieces: list[bytes]) -> None:
    buffer = FrameBuffer(max_frame=100)
    for piece in pieces:
        for frame in buffer.feed(piece):
            assert 0 < len(frame) <= 100
            assert b"\r" not in frame[2:] and b"\n" not in frame[2:]
        assert len(buffer) <= 100 + 1
