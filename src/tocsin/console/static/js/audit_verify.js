// In-browser checks of the audit log, with WebCrypto only (no library, nothing trusted
// from the server but the bytes it sends):
//
// - leaf bytes: the server stores each record as canonical JSON (msgspec, keys sorted,
//   no spaces, UTF-8) and hashes exactly those bytes. The records API sends the record
//   decoded, so we re-encode it the same way. That is exact for everything the records
//   hold except a float with an integral value (1.0 reaches us as 1): then the hashes
//   differ and we say so instead of claiming anything.
// - RFC 6962 / 9162 hashes: leaf = SHA-256(0x00 || bytes), node = SHA-256(0x01 || l || r),
//   and inclusion-proof verification as RFC 9162 §2.1.3.2 (tocsin.audit.merkle mirrors it).
// - the checkpoint: a C2SP signed note; its Ed25519 signature is checked only when the
//   auditor gives the log's verifier key (`tocsin audit pubkey`), which the API does not serve.

const enc = new TextEncoder();

export function cryptoAvailable() {
  return Boolean(globalThis.crypto?.subtle);
}

export function b64ToBytes(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function equalBytes(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    buf.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

export const leafHash = (bytes) => sha256(Uint8Array.of(0), bytes);
export const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

// Code-point order, as Python sorts str keys (JS's default sort compares UTF-16 units).
function byCodePoint(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d;
  }
  return x.length - y.length;
}

// JSON as msgspec's Encoder(order="sorted") writes it. String escaping is the same as
// JSON.stringify's (", \, control characters; \u00XX in lower case; everything else raw).
export function canonicalJson(value) {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(byCodePoint);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(",")}}`;
}

export async function recordLeaf(record) {
  const text = canonicalJson(record);
  return { text, hash: await leafHash(enc.encode(text)) };
}

// How many hashes the audit path of leaf `index` in a tree of `size` holds (as merkle.py):
// the levels below where the paths to `index` and `size - 1` part, plus one left sibling per
// set bit of `index` above them. BigInt: sizes may pass 2^31, where JS bit operators stop.
function inclusionLength(index, size) {
  const x = BigInt(index);
  const inner = (x ^ BigInt(size - 1)).toString(2).replace(/^0$/, "").length;
  const above = (x >> BigInt(inner)).toString(2).replaceAll("0", "").length;
  return inner + above;
}

// RFC 9162 §2.1.3.2; throws an Error saying which check failed.
export async function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index >= 0 && index < size)) throw new Error(`leaf ${index} is outside a tree of ${size} leaves`);
  const want = inclusionLength(index, size);
  if (proof.length !== want) throw new Error(`a proof for leaf ${index} of ${size} holds ${want} hashes, not ${proof.length}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32) throw new Error("a proof hash is not 32 bytes long");
    if (sn === 0) throw new Error("the proof has more hashes than the tree has levels");
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0 && fn % 2 === 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error("the proof has fewer hashes than the tree has levels");
  if (!equalBytes(r, root)) throw new Error("the proof does not lead to the checkpoint's root hash");
}

// A C2SP signed note holding a tlog-checkpoint: text, origin, size, root, signatures.
export function parseCheckpoint(note) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the checkpoint has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new Error("a checkpoint body has at least three lines");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new Error("the checkpoint's size is not a decimal number");
  const root = b64ToBytes(rootText);
  if (root.length !== 32) throw new Error("the checkpoint's root is not a 32-byte hash");
  const signatures = note.slice(split + 2).split("\n").filter(Boolean).map((line) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    return m ? { line, name: m[1], bytes: b64ToBytes(m[2]) } : { line, name: null, bytes: null };
  });
  return { note, text, origin, size: Number(sizeText), rootText, root, extensions, signatures };
}

// Check the note's Ed25519 signature by the verifier key "<name>+<hex id>+<base64(0x01||key)>".
export async function verifyCheckpointSignature(checkpoint, verifierKey) {
  const parts = verifierKey.trim().split("+");
  if (parts.length !== 3) throw new Error("a verifier key reads <name>+<key id>+<base64 key>");
  const [name, hexId, keyText] = parts;
  const raw = b64ToBytes(keyText);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error("the verifier key is not an Ed25519 note key");
  const pk = raw.slice(1);
  const id = (await sha256(enc.encode(`${name}\n`), Uint8Array.of(1), pk)).slice(0, 4);
  if (toHex(id) !== hexId) throw new Error("the verifier key's id does not match its name and key");
  const mine = checkpoint.signatures.filter((s) => s.name === name && s.bytes && equalBytes(s.bytes.slice(0, 4), id));
  if (!mine.length) throw new Error(`the checkpoint carries no signature by ${name} (${hexId})`);
  let key;
  try {
    key = await crypto.subtle.importKey("raw", pk, { name: "Ed25519" }, false, ["verify"]);
  } catch {
    throw new Error("this browser's WebCrypto has no Ed25519: check the signature with `tocsin audit verify` instead");
  }
  for (const s of mine) {
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, s.bytes.slice(4), enc.encode(checkpoint.text));
    if (!ok) throw new Error(`bad signature by ${name}: the checkpoint text was altered or another key signed it`);
  }
  return { name, keyId: hexId };
}
