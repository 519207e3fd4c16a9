"""SIA DC-09 framing: the CRC-16/ARC checksum, the LF…CR envelope, and stream reassembly.

A DC-09 frame on the wire is ``LF <crc> <0LLL> "id"…  CR``: 4 hex digits of CRC-16/ARC and
4 hex digits of length, both over the bytes from the id token's opening quote up to (not
including) the CR. Lupusec panels send the CRC as 2 raw bytes (big-endian) instead of 4 hex
digits. This module owns those bytes only; what is between the quotes and the CR is read by
:mod:`tocsin.ingest.sia_codec`. No I/O: a receiver feeds :class:`FrameBuffer` what it reads.
"""

from __future__ import annotations

from collections.abc import Callable

from fastcrc.crc16 import arc as _arc

__all__ = ("MAX_FRAME_BYTES", "FrameBuffer", "crc16_arc", "encode_frame", "is_binary_crc_header")

MAX_FRAME_BYTES = 4 + 4 + 0xFFF
"""Largest frame between LF and CR (4 KiB and a bit): the length field counts at most
0xFFF bytes, after the 4-digit CRC and the 4-digit length."""

_LF = 0x0A
_CR = 0x0D
_NUL = 0x00


def crc16_arc(data: bytes | bytearray) -> int:
    """CRC-16/ARC: poly 0x8005 reflected (0xA001), init 0, no final xor; check value 0xBB3D.

    Computed by ``fastcrc`` (crc-rs): the CRC is computed twice per frame (the request and
    the ACK), and in Python, even two bytes per table lookup, it was the receiver's largest
    single cost (3.6 microseconds a frame against 0.14).

    Args:
        data: the bytes from the id token's opening ``"`` up to, not including, the CR.

    Returns:
        The 16-bit CRC (DC-09 writes it as 4 upper-case hex digits).
    """
    return _arc(data)


def encode_frame(body: bytes, *, binary_crc: bool = False) -> bytes:
    """Wrap a body (``"id"seq…[…]…``) into a complete frame: LF, CRC, length, body, CR.

    Args:
        body: the bytes the CRC and length cover, starting with the id token's ``"``.
        binary_crc: write the CRC as 2 raw bytes, as Lupusec panels expect it back.

    Returns:
        The frame, upper-case hex, ready to write to the socket.

    Raises:
        ValueError: the body is longer than the length field can express (0xFFF bytes).
    """
    if len(body) > 0xFFF:
        raise ValueError(f"DC-09 body of {len(body)} bytes exceeds the 0xFFF the length field allows")
    crc = crc16_arc(body)
    crc_field = crc.to_bytes(2, "big") if binary_crc else b"%04X" % crc
    return b"\n" + crc_field + b"%04X" % len(body) + body + b"\r"


def is_binary_crc_header(data: bytes | bytearray, offset: int = 0) -> bool:
    """Whether the frame content at ``offset`` (just after the LF) has a 2-byte binary CRC.

    A hex frame has its opening quote at +8; a binary one at +6, after ``0LLL`` at +2.
    """
    return data[offset + 2 : offset + 3] == b"0" and data[offset + 6 : offset + 7] == b'"'


class FrameBuffer:
    """Reassembles frames from one TCP connection's byte stream.

    ``feed`` returns every frame completed so far, *without* the LF and CR (the same bytes
    as the ``*.frame`` test vectors; :func:`tocsin.ingest.sia_codec.parse_frame` accepts
    either form). Split and coalesced reads are handled; bytes outside LF…CR (trailing NULs
    after the CR, line noise) are discarded. A frame that grows past ``max_frame`` bytes
    without its CR is discarded, and so is a frame interrupted by a new LF (it cannot be
    valid: DC-09 allows no LF inside a frame). The rest of an oversize frame, up to its CR
    (or the next LF), is dropped with it. Discards are counted in ``junk_bytes`` (NULs not
    included: panels append them routinely) and ``oversize_frames``, and reported to
    ``on_discard(reason, nbytes)`` with reason ``"junk"`` or ``"oversize"`` (``nbytes`` is
    what was held when the bound was crossed).

    Memory is bounded by ``max_frame`` plus the largest chunk fed. Not thread-safe: use one
    buffer per connection, fed from one task.
    """

    def __init__(
        self,
        *,
        max_frame: int = MAX_FRAME_BYTES,
        on_discard: Callable[[str, int], None] | None = None,
    ) -> None:
        self.max_frame = max_frame
        self.on_discard = on_discard
        self.junk_bytes = 0
        self.oversize_frames = 0
        self._buf = bytearray()
        self._skipping = False  # inside an oversize frame: drop bytes up to its CR

    def __len__(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def _junk(self, chunk: bytes | bytearray) -> None:
        count = len(chunk) - chunk.count(_NUL)
        if count:
            self.junk_bytes += count
            if self.on_discard is not None:
                self.on_discard("junk", count)

    def _oversize(self, count: int) -> None:
        self.oversize_frames += 1
        if self.on_discard is not None:
            self.on_discard("oversize", count)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes read from the socket; return the frames they complete, in order.

        Args:
            data: any chunk of the stream, however the network split it.

        Returns:
            Complete frames without their LF/CR envelope; empty frames are dropped.
        """
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        while pos < len(buf):
            if self._skipping:
                end = self._terminator(buf, pos)
                if end < 0:
                    pos = len(buf)
                    break
                self._skipping = False
                pos = end + 1 if buf[end] == _CR else end
                continue
            start = buf.find(_LF, pos)
            if start < 0:
                self._junk(buf[pos:])
                pos = len(buf)
                break
            if start > pos:
                self._junk(buf[pos:start])
            pos = start
            if len(buf) - start < 8:
                break  # not enough to tell a binary CRC (which may hold CR/LF bytes) from hex
            scan = start + (3 if is_binary_crc_header(buf, start + 1) else 1)
            end = self._terminator(buf, scan)
            if end < 0:
                if len(buf) - start - 1 > self.max_frame:
                    self._oversize(len(buf) - start - 1)
                    self._skipping = True
                    pos = len(buf)
                break
            if buf[end] == _LF:
                self._junk(buf[start:end])  # interrupted: a new frame starts before the CR
                pos = end
                continue
            frame = bytes(buf[start + 1 : end])
            pos = end + 1
            if len(frame) > self.max_frame:
                self._oversize(len(frame))
            elif frame:
                frames.append(frame)
        del buf[:pos]
        return frames

    @staticmethod
    def _terminator(buf: bytearray, scan: int) -> int:
        """Index of the first CR or LF at or after ``scan``, or -1."""
        cr = buf.find(_CR, scan)
        lf = buf.find(_LF, scan)
        if cr < 0:
            return lf
        if lf < 0:
            return cr
        return min(cr, lf)
