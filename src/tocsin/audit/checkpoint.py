"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, with Ed25519.

A checkpoint commits a log (``origin``) to a tree size and root hash; the server signs
one as a signed note (https://c2sp.org/signed-note) whose text is the checkpoint body
(https://c2sp.org/tlog-checkpoint)::

    tocsin.example/audit
    42
    <base64 root hash>

    — tocsin.example/audit <base64(4-byte key id || 64-byte Ed25519 signature)>

This module owns key handling (``Signer``, ``Verifier`` and the note key formats), the
exact text format, and parsing with signature checks. It does not decide *when* to sign
or check that a new checkpoint extends the last one: that needs the log's leaves, and
belongs to the caller (``audit.log``) with ``merkle``. Only Ed25519 (signature type 0x01)
is supported; signatures by other keys or of other types are ignored, as the note
specification requires, so witnesses may cosign the same note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tocsin.audit.merkle import HASH_SIZE
from tocsin.errors import ConfigError, TocsinError

__all__ = (
    "MAX_NOTE_BYTES",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "Signer",
    "Verifier",
    "key_id",
    "open_checkpoint",
    "open_note",
    "sign_checkpoint",
    "sign_note",
)

MAX_NOTE_BYTES = 256 * 1024
"""Largest signed note ``open_note`` reads, in bytes (characters for ``str``); the spec asks for a bound."""

MAX_SIGNATURES = 100
"""Most signature lines ``open_note`` reads; the spec requires accepting at least 16."""

_ED25519 = b"\x01"
_DASH = "\u2014 "  # em dash and space open every signature line
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_ID = re.compile(r"[0-9a-f]{8}")


class CheckpointError(TocsinError):
    """A signed note or checkpoint is malformed, or no trusted signature verifies.

    ``bad_signature`` is true when the text is well-formed but the signature check failed
    (altered text, another key, or no signature from the expected key).
    """

    status_code = 422
    code = "invalid_checkpoint"

    def __init__(self, detail: str, *, bad_signature: bool = False) -> None:
        super().__init__(detail)
        self.bad_signature = bad_signature


def _key_name_problem(name: str) -> str | None:
    if not name:
        return "a key name must not be empty"
    if "+" in name or any(char.isspace() or char < " " for char in name):
        return f"key name {name!r} must not contain spaces, control characters or '+'"
    return None


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte note key id of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + public_key).digest()[:4]


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64: None unless ``text`` is the canonical encoding of something."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == text else None


class Verifier:
    """An Ed25519 note verifier key: a key name and a public key.

    Build one from the verifier key string a log publishes,
    ``<name>+<hex key id>+<base64(0x01 || public key)>``, with ``from_key``.
    """

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        problem = _key_name_problem(name)
        if problem is not None:
            raise ConfigError(problem)
        try:
            self._key = Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise ConfigError(f"not an Ed25519 public key ({len(public_key)} bytes)") from exc
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def from_key(cls, vkey: str) -> Verifier:
        """Parse a note verifier key string.

        Args:
            vkey: ``<name>+<8 hex digits key id>+<base64(0x01 || 32-byte public key)>``.

        Returns:
            The verifier.

        Raises:
            ConfigError: the string is malformed, not Ed25519, or its key id does not match.
        """
        # Names hold no '+', but base64 key data may: cut twice from the left, never more.
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise ConfigError("a verifier key reads <name>+<key id>+<base64 key>")
        name, hex_id, encoded = parts
        if not _HEX_ID.fullmatch(hex_id):
            raise ConfigError(f"verifier key id {hex_id!r} is not 8 lower-case hex digits")
        raw = _b64decode(encoded)
        if raw is None or not raw:
            raise ConfigError("the verifier key's key data is not base64")
        if raw[:1] != _ED25519:
            raise ConfigError(f"signature type 0x{raw[0]:02x} is not supported; tocsin verifies Ed25519 (0x01)")
        verifier = cls(name, raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise ConfigError(f"verifier key id {hex_id} does not match its name and key")
        return verifier

    def key(self) -> str:
        """This key as a verifier key string."""
        encoded = base64.b64encode(_ED25519 + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.name!r}, key_id={self.key_id.hex()})"


class Signer:
    """An Ed25519 note signing key with its key name (the log's origin, by convention).

    Keep the private key secret: store it with ``to_pem`` (PKCS #8) or ``to_seed`` (the
    32-byte RFC 8032 seed) in a file only the server can read. ``repr`` never shows it.
    """

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        problem = _key_name_problem(name)
        if problem is not None:
            raise ConfigError(problem)
        self.name = name
        self._key = private_key
        self.public_key = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, self.public_key)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A new random key named ``name``."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, name: str, seed: bytes) -> Signer:
        """The key with this 32-byte seed.

        Raises:
            ConfigError: the seed is not 32 bytes.
        """
        try:
            return cls(name, Ed25519PrivateKey.from_private_bytes(seed))
        except ValueError as exc:
            raise ConfigError(f"an Ed25519 seed is 32 bytes, not {len(seed)}") from exc

    @classmethod
    def from_pem(cls, pem: bytes, *, name: str) -> Signer:
        """The key in an unencrypted PKCS #8 PEM file, named ``name``.

        Raises:
            ConfigError: the PEM is unreadable or not an Ed25519 private key.
        """
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"cannot read the audit signing key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError("the audit signing key is not an Ed25519 key")
        return cls(name, key)

    def to_seed(self) -> bytes:
        """The 32-byte private seed (secret)."""
        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS #8 PEM (secret)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def verifier(self) -> Verifier:
        """The matching public verifier."""
        return Verifier(self.name, self.public_key)

    def verifier_key(self) -> str:
        """The verifier key string to publish: ``<name>+<hex key id>+<base64(0x01 || key)>``."""
        return self.verifier().key()

    def __repr__(self) -> str:
        return f"Signer({self.name!r}, key_id={self.key_id.hex()})"


# -- signed notes ----------------------------------------------------------------------


def _text_problem(text: str) -> str | None:
    if any(char < " " and char != "\n" for char in text):
        return "a signed note must not contain control characters other than newline"
    try:
        text.encode()
    except UnicodeEncodeError:
        return "a signed note must be valid UTF-8"
    return None


def sign_note(text: str, signer: Signer) -> str:
    """Sign ``text`` (which must end in a newline) as a C2SP signed note.

    Raises:
        CheckpointError: the text is empty, lacks its final newline, or has control characters.
    """
    problem = _text_problem(text)
    if problem is None and not text.endswith("\n"):
        problem = "a note's text must end with a newline"
    if problem is not None:
        raise CheckpointError(problem)
    signature = base64.b64encode(signer.key_id + signer.sign(text.encode())).decode()
    return f"{text}\n{_DASH}{signer.name} {signature}\n"


def open_note(note: str | bytes, verifier: Verifier) -> str:
    """Check a signed note's signature by ``verifier`` and return its text.

    Signature lines from other keys (another name or key id) are ignored, as the note
    specification requires; a line from this key that fails to verify rejects the note.

    Args:
        note: The whole note, as text or UTF-8 bytes.
        verifier: The key that must have signed it.

    Returns:
        The note text, including its final newline.

    Raises:
        CheckpointError: the note is malformed, or carries no valid signature by the key.
    """
    if len(note) > MAX_NOTE_BYTES:
        raise CheckpointError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError as exc:
            raise CheckpointError("a signed note must be valid UTF-8") from exc
    problem = _text_problem(note)
    if problem is not None:
        raise CheckpointError(problem)
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckpointError("the note has no blank line between its text and its signatures")
    text, lines = note[: split + 1], note[split + 2 :]
    if not lines:
        raise CheckpointError("the note has no signature lines")
    if not lines.endswith("\n"):
        raise CheckpointError("the note's last signature line must end with a newline")
    lines_list = lines[:-1].split("\n")
    if len(lines_list) > MAX_SIGNATURES:
        raise CheckpointError(f"the note has more than {MAX_SIGNATURES} signatures")
    verified = False
    for number, line in enumerate(lines_list, 1):
        name, signature = _parse_signature_line(line, number)
        if name != verifier.name or signature[:4] != verifier.key_id:
            continue  # another key, e.g. a witness cosignature
        if not verifier.verify(text.encode(), signature[4:]):
            raise CheckpointError(
                f"bad signature from key {name} (the text was altered, or another key signed it)",
                bad_signature=True,
            )
        verified = True
    if not verified:
        raise CheckpointError(
            f"no signature by key {verifier.name} ({verifier.key_id.hex()}) on this note", bad_signature=True
        )
    return text


def _parse_signature_line(line: str, number: int) -> tuple[str, bytes]:
    if not line.startswith(_DASH):
        raise CheckpointError(f"signature line {number} does not start with an em dash and a space")
    fields = line[len(_DASH) :].split(" ")
    if len(fields) != 2 or _key_name_problem(fields[0]) is not None:
        raise CheckpointError(f"signature line {number} is not '— <key name> <base64 signature>'")
    signature = _b64decode(fields[1])
    if signature is None or len(signature) < 5:
        raise CheckpointError(f"signature line {number} does not hold a base64 key id and signature")
    return fields[0], signature


# -- checkpoints -----------------------------------------------------------------------


class Checkpoint(msgspec.Struct, frozen=True):
    """A log's signed commitment: its identity, tree size and root hash.

    ``extensions`` are opaque extra body lines (tlog-checkpoint discourages them).
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body, the exact text that gets signed.

        Raises:
            CheckpointError: a field cannot be written as a checkpoint.
        """
        if not self.origin or "\n" in self.origin:
            raise CheckpointError("a checkpoint's origin must be one non-empty line")
        if not 0 <= self.size < 1 << 64:
            raise CheckpointError(f"tree size {self.size} is out of range")
        if len(self.root) != HASH_SIZE:
            raise CheckpointError(f"a checkpoint's root hash is {HASH_SIZE} bytes, not {len(self.root)}")
        if any(not line or "\n" in line for line in self.extensions):
            raise CheckpointError("each checkpoint extension must be one non-empty line")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def sign_checkpoint(cp: Checkpoint, signer: Signer) -> str:
    """The signed note of ``cp`` by ``signer``: body, blank line, one signature line.

    The signer's name should be ``cp.origin`` (tlog-checkpoint recommends it).

    Raises:
        CheckpointError: ``cp`` cannot be written as a checkpoint.
    """
    return sign_note(cp.text(), signer)


def open_checkpoint(note: str | bytes, verifier: Verifier, *, origin: str | None = None) -> Checkpoint:
    """Check a signed checkpoint's signature by ``verifier`` and parse it.

    Args:
        note: The signed note, as text or UTF-8 bytes.
        verifier: The log's key.
        origin: If given, the origin the checkpoint must name.

    Returns:
        The checkpoint.

    Raises:
        CheckpointError: the note is malformed, not signed by the key, or not a checkpoint.
    """
    text = open_note(note, verifier)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("a checkpoint needs an origin, a tree size and a root hash line")
    found_origin, size_text, root_text, *extensions = lines
    if not found_origin:
        raise CheckpointError("the checkpoint's origin line is empty")
    if origin is not None and found_origin != origin:
        raise CheckpointError(f"the checkpoint is for log {found_origin!r}, not {origin!r}")
    if not _DECIMAL.fullmatch(size_text) or len(size_text) > 20 or int(size_text) >= 1 << 64:
        raise CheckpointError(f"tree size {size_text!r} is not a decimal number without leading zeros")
    root = _b64decode(root_text)
    if root is None or len(root) != HASH_SIZE:
        raise CheckpointError("the checkpoint's root line is not a base64 SHA-256 hash")
    if any(not line for line in extensions):
        raise CheckpointError("a checkpoint extension line is empty")
    return Checkpoint(origin=found_origin, size=int(size_text), root=root, extensions=tuple(extensions))
