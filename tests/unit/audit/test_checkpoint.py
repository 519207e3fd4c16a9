"""Signed checkpoints: the C2SP formats byte for byte, and every way a note can be bad."""

from __future__ import annotations

import base64

import pytest

from tocsin.audit.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    Signer,
    Verifier,
    key_id,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)
from tocsin.audit.merkle import EMPTY_ROOT, leaf_hash
from tocsin.errors import ConfigError

# The example of golang.org/x/mod/sumdb/note, the reference implementation of signed notes.
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ORIGIN = "tocsin.example/audit"
ROOT = leaf_hash(b"some tree")


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def signed(signer: Signer, size: int = 42) -> str:
    return sign_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=ROOT), signer)


# -- keys ------------------------------------------------------------------------------


def test_key_ids_match_the_go_reference() -> None:
    verifier = Verifier.from_key(GO_VKEY)
    assert verifier.key_id.hex() == "c74f20a3"
    assert key_id("PeterNeumann", verifier.public_key).hex() == "c74f20a3"
    assert Verifier.from_key("EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop").key_id.hex() == (
        "af0cfe78"
    )
    assert verifier.key() == GO_VKEY


def test_signing_reproduces_the_go_reference_note_byte_for_byte() -> None:
    signer = Signer.from_seed("PeterNeumann", GO_SEED)
    assert signer.verifier_key() == GO_VKEY
    assert sign_note(GO_TEXT, signer) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.from_key(GO_VKEY)) == GO_TEXT


def test_signer_storage_round_trips_and_never_shows_the_secret(signer: Signer) -> None:
    for copy in (Signer.from_pem(signer.to_pem(), name=ORIGIN), Signer.from_seed(ORIGIN, signer.to_seed())):
        assert copy.verifier_key() == signer.verifier_key()
    assert signer.to_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert signer.to_seed().hex() not in repr(signer)
    assert signer.key_id.hex() in repr(signer)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",  # no key
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # upper-case id
        "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # other name
        "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short key
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "",
    ],
)
def test_malformed_verifier_keys_are_refused(vkey: str) -> None:
    with pytest.raises(ConfigError):
        Verifier.from_key(vkey)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "tab\there", "new\nline"])
def test_key_names_follow_the_note_rules(name: str) -> None:
    with pytest.raises(ConfigError):
        Signer.generate(name)


def test_bad_key_material_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        Signer.from_seed(ORIGIN, b"short")
    with pytest.raises(ConfigError):
        Signer.from_pem(b"not a pem", name=ORIGIN)


# -- checkpoints -----------------------------------------------------------------------


def test_checkpoint_round_trip(signer: Signer) -> None:
    cp = Checkpoint(origin=ORIGIN, size=42, root=ROOT, extensions=("ext one", "ext two"))
    note = sign_checkpoint(cp, signer)
    body = f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\next one\next two\n"
    assert note.startswith(body + "\n\u2014 " + ORIGIN + " ")
    assert note.endswith("\n")
    assert open_checkpoint(note, signer.verifier()) == cp
    assert open_checkpoint(note.encode(), signer.verifier(), origin=ORIGIN) == cp
    signature = base64.b64decode(note.rsplit(" ", 1)[1])
    assert signature[:4] == signer.key_id and len(signature) == 68


def test_the_empty_tree_has_a_checkpoint(signer: Signer) -> None:
    cp = Checkpoint(origin=ORIGIN, size=0, root=EMPTY_ROOT)
    assert open_checkpoint(sign_checkpoint(cp, signer), signer.verifier()) == cp


def tamper_line(note: str, index: int, value: str) -> str:
    lines = note.split("\n")
    lines[index] = value
    return "\n".join(lines)


def test_tampered_body_size_or_root_fails_the_signature(signer: Signer) -> None:
    note = signed(signer)
    other_root = base64.b64encode(leaf_hash(b"other")).decode()
    for tampered in (
        tamper_line(note, 0, "tocsin.example/other"),
        tamper_line(note, 1, "43"),
        tamper_line(note, 2, other_root),
        note.replace("\n\n", "\nextra\n\n"),
    ):
        with pytest.raises(CheckpointError, match="bad signature") as info:
            open_checkpoint(tampered, signer.verifier())
        assert info.value.bad_signature


def test_a_signature_by_another_key_is_not_trusted(signer: Signer) -> None:
    impostor = Signer.generate(ORIGIN)  # same name, other key: another key id
    with pytest.raises(CheckpointError, match="no signature by key"):
        open_checkpoint(signed(impostor), signer.verifier())
    # Same name and key id but another key's signature bytes: a known key that fails.
    forged = signed(signer).rsplit(" ", 1)[0] + " "
    raw = base64.b64decode(signed(impostor).rsplit(" ", 1)[1])
    forged += base64.b64encode(signer.key_id + raw[4:]).decode() + "\n"
    with pytest.raises(CheckpointError, match="bad signature from key"):
        open_checkpoint(forged, signer.verifier())


def test_a_wrong_key_name_is_not_trusted(signer: Signer) -> None:
    renamed = signed(signer).replace(f"\u2014 {ORIGIN} ", "\u2014 tocsin.example/other ")
    with pytest.raises(CheckpointError, match="no signature by key"):
        open_checkpoint(renamed, signer.verifier())


def test_other_signatures_are_ignored_as_cosignatures(signer: Signer) -> None:
    witness = Signer.generate("witness.example")
    note = signed(signer)
    extra = sign_note(note.split("\n\n")[0] + "\n", witness).split("\n\n")[1]
    cosigned = note + extra
    assert open_checkpoint(cosigned, signer.verifier()).size == 42
    assert open_checkpoint(cosigned, witness.verifier()).size == 42


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda note: note.replace("\n\n", "\n"), "no blank line"),
        (lambda note: note[:-1], "must end with a newline"),
        (lambda note: note.replace("\u2014", "-"), "em dash"),
        (lambda note: note.replace("\n", "\r\n"), "control characters"),
        (lambda note: note.replace("\n42\n", "\n042\n"), "bad signature"),
        (lambda note: note.split("\n\n")[0] + "\n\n", "no signature lines"),
        (lambda note: note.replace(f"{ORIGIN} ", f"{ORIGIN}  "), "not '\u2014 <key name>"),
    ],
)
def test_malformed_notes_are_rejected_clearly(signer: Signer, mangle: object, message: str) -> None:
    assert callable(mangle)
    with pytest.raises(CheckpointError, match=message):
        open_checkpoint(mangle(signed(signer)), signer.verifier())


def test_non_utf8_notes_are_rejected(signer: Signer) -> None:
    raw = signed(signer).encode().replace(ORIGIN.encode(), b"tocsin\xff", 1)
    with pytest.raises(CheckpointError, match="UTF-8"):
        open_checkpoint(raw, signer.verifier())
    with pytest.raises(CheckpointError, match="UTF-8"):
        open_checkpoint(signed(signer).replace("tocsin", "\udcff", 1), signer.verifier())


def test_too_many_signatures_are_refused(signer: Signer) -> None:
    note = signed(signer)
    line = note.split("\n\n")[1]
    with pytest.raises(CheckpointError, match="more than"):
        open_checkpoint(note + line * MAX_SIGNATURES, signer.verifier())


@pytest.mark.parametrize(
    "body",
    [
        "only\ntwo\n",
        "\n42\n{root}\n",
        "o\n042\n{root}\n",
        "o\n-1\n{root}\n",
        "o\n4 2\n{root}\n",
        "o\n\u0664\u0662\n{root}\n",  # Arabic-Indic digits are not ASCII decimal
        "o\n42\nnot base64\n",
        "o\n42\n{short}\n",
        "o\n42\n{root}\n\nextension after blank\n",
    ],
)
def test_signed_text_that_is_not_a_checkpoint_is_rejected(signer: Signer, body: str) -> None:
    text = body.format(root=base64.b64encode(ROOT).decode(), short=base64.b64encode(ROOT[:31]).decode())
    with pytest.raises(CheckpointError):
        open_checkpoint(sign_note(text, signer), signer.verifier())


def test_the_origin_can_be_pinned(signer: Signer) -> None:
    with pytest.raises(CheckpointError, match="not 'tocsin.example/other'"):
        open_checkpoint(signed(signer), signer.verifier(), origin="tocsin.example/other")


@pytest.mark.parametrize(
    "cp",
    [
        Checkpoint(origin="", size=1, root=ROOT),
        Checkpoint(origin="a\nb", size=1, root=ROOT),
        Checkpoint(origin="o", size=-1, root=ROOT),
        Checkpoint(origin="o", size=1, root=ROOT[:8]),
        Checkpoint(origin="o", size=1, root=ROOT, extensions=("",)),
    ],
)
def test_unwritable_checkpoints_are_not_signed(signer: Signer, cp: Checkpoint) -> None:
    with pytest.raises(CheckpointError):
        sign_checkpoint(cp, signer)
