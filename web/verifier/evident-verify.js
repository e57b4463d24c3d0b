// evident-verify.js: the standalone verifier of Evident logs and evidence bundles.
//
// Scope: everything a third party needs to check what an Evident server hands out,
// with nothing of Evident installed and no network: C2SP signed notes and
// checkpoints (Ed25519), RFC 6962 / RFC 9162 leaf and node hashes, inclusion proofs
// and C2SP tlog-proofs (`c2sp.org/tlog-proof@v1`), salted payload commitments
// (CONTRACT section 2), and whole evidence bundles (CONTRACT section 8; the format is
// described in docs/evidence.md). The same checks as `evident verify-bundle`.
//
// One ES module, no dependencies: SHA-256 and Ed25519 come from WebCrypto
// (`crypto.subtle`, in every current browser and in Node 20+). It works opened from
// file:// (the page inside each bundle embeds it) and as a module in the console.
//
// API (every function that hashes or verifies is async; failures throw
// `VerifyError`, whose `member` and `seq` say what they concern when they can):
//
//   sha256(bytes) -> Uint8Array(32)
//   leafHash(entryBytes), nodeHash(left, right) -> Uint8Array(32)   RFC 6962 2.1
//   parseVerifierKey(vkey) -> {name, keyId, publicKey}               `<name>+<hex8>+<base64>`
//   parseSignedNote(text) -> {text, signatures: [{name, keyId, signature}]}
//   openNote(noteText, vkey) -> text       the signature by vkey must verify
//   parseCheckpoint(text) -> {origin, size: BigInt, root: Uint8Array, extensions}
//   openCheckpoint(noteText, vkey) -> checkpoint (origin must be the key's name)
//   verifyInclusion(index, size, leaf, root, hashes)                 RFC 9162 2.1.3.2
//   parseTlogProof(text) -> {index: BigInt, extra, hashes, checkpoint}
//   verifyTlogProof(proofText, entryBytes, vkey) -> checkpoint
//   commitmentOf(salt, bytes) -> "sha256:<hex>";  checkCommitment(ref, salt, bytes) -> boolean
//   readTar(bytes) -> Map(path -> Uint8Array)                        ustar, as bundles use
//   verifyBundle(bundleBytes, {key, trustBundledKey}) -> report
//
// `verifyBundle` never throws for a bad bundle: it returns
// `{ok, keyPinned, selection, checkpoint, entries, blobs, failures: [{member, seq, why}],
//   notes: [string]}`; `ok` is true only if every check held. Without `key` and
// without `trustBundledKey` that is a failure (the key is not pinned); with
// `trustBundledKey`, `keyPinned` is false and a note says what that means.

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A check that failed; `member` (a bundle path) and `seq` when known. */
export class VerifyError extends Error {
  constructor(why, { member = null, seq = null } = {}) {
    super(why);
    this.name = "VerifyError";
    this.member = member;
    this.seq = seq;
  }
}

function bytesOf(data) {
  if (typeof data === "string") return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError("expected bytes or a string");
}

function concat(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Lowercase hex. */
export function toHex(bytes) {
  return Array.from(bytesOf(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Standard base64 (with padding), strict: anything else throws. */
export function fromBase64(text) {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new VerifyError("not standard base64");
  }
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function toBase64(bytes) {
  let binary = "";
  for (const b of bytesOf(bytes)) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** SHA-256 of `data` (bytes or a string, as UTF-8). */
export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytesOf(data)));
}

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ entry). */
export async function leafHash(entry) {
  return sha256(concat(Uint8Array.of(0), bytesOf(entry)));
}

/** RFC 6962 node hash: SHA-256(0x01 ‖ left ‖ right). */
export async function nodeHash(left, right) {
  return sha256(concat(Uint8Array.of(1), left, right));
}

// ---- C2SP signed-note ----

/** Signature type byte of Ed25519 note keys (C2SP signed-note). */
const ALG_ED25519 = 0x01;

/** Parses a verifier key `<name>+<hex8 key id>+<base64(0x01 ‖ public key)>`. */
export function parseVerifierKey(vkey) {
  const text = vkey.trim();
  // Names hold no '+'; the base64 key may.
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text);
  if (!match) throw new VerifyError("malformed verifier key: expected <name>+<hex8>+<base64>");
  const parts = match.slice(1);
  const raw = fromBase64(parts[2]);
  if (raw.length !== 33 || raw[0] !== ALG_ED25519) {
    throw new VerifyError("not an Ed25519 verifier key");
  }
  return { name: parts[0], keyId: parts[1], publicKey: raw.slice(1), text };
}

/** The key id a verifier key must carry: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]. */
async function keyIdOf(name, publicKey) {
  const digest = await sha256(concat(encoder.encode(name), Uint8Array.of(0x0a, ALG_ED25519), publicKey));
  return digest.slice(0, 4);
}

/**
 * Splits a signed note into its text (up to and including the newline before the
 * blank line) and its signature lines `— <name> <base64(key id ‖ signature)>`.
 */
export function parseSignedNote(noteText) {
  const text = typeof noteText === "string" ? noteText : decoder.decode(bytesOf(noteText));
  const split = text.lastIndexOf("\n\n");
  if (split < 0 || !text.endsWith("\n")) throw new VerifyError("malformed signed note");
  const body = text.slice(0, split + 1);
  const lines = text.slice(split + 2, -1).split("\n");
  const signatures = [];
  for (const line of lines) {
    const match = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!match) throw new VerifyError("malformed signature line in signed note");
    const raw = fromBase64(match[2]);
    if (raw.length < 5) throw new VerifyError("signature too short in signed note");
    signatures.push({ name: match[1], keyId: toHex(raw.slice(0, 4)), signature: raw.slice(4) });
  }
  if (signatures.length === 0) throw new VerifyError("signed note without signatures");
  return { text: body, signatures };
}

/**
 * Verifies a signed note against one verifier key; returns its text. Signatures by
 * other keys (e.g. witness cosignatures) are ignored; one by this key must verify.
 */
export async function openNote(noteText, vkey) {
  const key = parseVerifierKey(vkey);
  const expectedId = toHex(await keyIdOf(key.name, key.publicKey));
  if (expectedId !== key.keyId) throw new VerifyError("verifier key id does not match its name and key");
  const note = parseSignedNote(noteText);
  const ours = note.signatures.filter((s) => s.name === key.name && s.keyId === key.keyId);
  if (ours.length === 0) throw new VerifyError(`no signature by ${key.name}`);
  const publicKey = await crypto.subtle.importKey("raw", key.publicKey, { name: "Ed25519" }, false, ["verify"]);
  for (const s of ours) {
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, publicKey, s.signature, encoder.encode(note.text));
    if (!ok) throw new VerifyError(`the signature by ${key.name} does not verify`);
  }
  return note.text;
}

// ---- C2SP tlog-checkpoint ----

function parseCanonicalInteger(text, what) {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new VerifyError(`${what} is not canonical decimal`);
  return BigInt(text);
}

/** Parses checkpoint text: origin, size, base64 root, then extension lines. */
export function parseCheckpoint(text) {
  if (!text.endsWith("\n")) throw new VerifyError("checkpoint does not end in a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines[0] === "") throw new VerifyError("checkpoint lacks origin, size and root");
  const size = parseCanonicalInteger(lines[1], "checkpoint size");
  const root = fromBase64(lines[2]);
  if (root.length !== 32) throw new VerifyError("checkpoint root is not 32 bytes");
  const extensions = lines.slice(3);
  if (extensions.some((l) => l === "")) throw new VerifyError("empty checkpoint extension line");
  return { origin: lines[0], size, root, extensions };
}

/** Verifies a signed checkpoint and parses it; its origin must be the key's name. */
export async function openCheckpoint(noteText, vkey) {
  const text = await openNote(noteText, vkey);
  const checkpoint = parseCheckpoint(text);
  const name = parseVerifierKey(vkey).name;
  if (checkpoint.origin !== name) {
    throw new VerifyError(`checkpoint origin ${checkpoint.origin} is not the key name ${name}`);
  }
  return checkpoint;
}

// ---- RFC 9162 inclusion proofs ----

/** RFC 9162 section 2.1.3.2: checks that `hashes` lead from `leaf` at `index` to `root`. */
export async function verifyInclusion(index, size, leaf, root, hashes) {
  let fn = BigInt(index);
  let sn = BigInt(size) - 1n;
  if (fn > sn) throw new VerifyError(`index ${fn} is outside a tree of size ${sn + 1n}`);
  let r = leaf;
  for (const p of hashes) {
    if (sn === 0n) throw new VerifyError("inclusion proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new VerifyError("inclusion proof is too short");
  if (!equalBytes(r, root)) throw new VerifyError("inclusion proof does not lead to the root");
}

// ---- C2SP tlog-proof ----

export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";

/** Parses a tlog-proof without verifying it. */
export function parseTlogProof(proofText) {
  const text = typeof proofText === "string" ? proofText : decoder.decode(bytesOf(proofText));
  let rest = text;
  const next = () => {
    const at = rest.indexOf("\n");
    if (at < 0) throw new VerifyError("tlog-proof is truncated");
    const line = rest.slice(0, at);
    rest = rest.slice(at + 1);
    return line;
  };
  if (next() !== TLOG_PROOF_HEADER) throw new VerifyError(`tlog-proof lacks the ${TLOG_PROOF_HEADER} header`);
  let line = next();
  let extra = null;
  if (line.startsWith("extra ")) {
    extra = fromBase64(line.slice(6));
    line = next();
  }
  if (!line.startsWith("index ")) throw new VerifyError("tlog-proof lacks its index line");
  const index = parseCanonicalInteger(line.slice(6), "tlog-proof index");
  const hashes = [];
  for (;;) {
    const hashLine = next();
    if (hashLine === "") break;
    if (hashes.length === 64) throw new VerifyError("tlog-proof has more than 64 hashes");
    const hash = fromBase64(hashLine);
    if (hash.length !== 32) throw new VerifyError("tlog-proof hash is not 32 bytes");
    hashes.push(hash);
  }
  if (rest === "") throw new VerifyError("tlog-proof lacks its checkpoint");
  return { index, extra, hashes, checkpoint: rest };
}

/** Verifies that `entry` is in the log of `vkey`; returns the proof's checkpoint. */
export async function verifyTlogProof(proofText, entry, vkey) {
  const proof = parseTlogProof(proofText);
  const checkpoint = await openCheckpoint(proof.checkpoint, vkey);
  await verifyInclusion(proof.index, checkpoint.size, await leafHash(entry), checkpoint.root, proof.hashes);
  return checkpoint;
}

// ---- payload commitments (CONTRACT section 2) ----

/** `sha256:<hex>` of SHA-256(salt ‖ bytes). */
export async function commitmentOf(salt, bytes) {
  return `sha256:${toHex(await sha256(concat(bytesOf(salt), bytesOf(bytes))))}`;
}

/** Whether `bytes` and the 32-byte `salt` open the commitment `ref` (`sha256:<hex>`). */
export async function checkCommitment(ref, salt, bytes) {
  if (bytesOf(salt).length !== 32) return false;
  return (await commitmentOf(salt, bytes)) === ref;
}

// ---- tar (POSIX ustar), the bundle's container ----

function cString(bytes) {
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.slice(0, end));
}

/**
 * Reads a ustar archive into a map of path -> bytes. Only regular files are
 * accepted; a duplicate path, a link or a device is an error (a bundle holds none).
 */
export function readTar(archive) {
  const data = bytesOf(archive);
  const members = new Map();
  let at = 0;
  while (at + 512 <= data.length) {
    const header = data.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    let stored = 0;
    for (let i = 0; i < 512; i++) stored += i >= 148 && i < 156 ? 32 : header[i];
    const checksum = parseInt(cString(header.subarray(148, 156)).trim(), 8);
    if (checksum !== stored) throw new VerifyError(`tar header checksum is wrong at byte ${at}`);
    let name = cString(header.subarray(0, 100));
    const magic = cString(header.subarray(257, 263));
    if (magic === "ustar") {
      const prefix = cString(header.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    const size = parseInt(cString(header.subarray(124, 136)).trim() || "0", 8);
    const type = String.fromCharCode(header[156] || 48);
    const start = at + 512;
    if (start + size > data.length) throw new VerifyError(`tar member ${name} is truncated`, { member: name });
    at = start + Math.ceil(size / 512) * 512;
    if (type === "5") continue;
    if (type !== "0") throw new VerifyError(`tar member ${name} is not a regular file`, { member: name });
    if (members.has(name)) throw new VerifyError(`tar member ${name} appears twice`, { member: name });
    members.set(name, data.slice(start, start + size));
  }
  return members;
}

// ---- evidence bundles (CONTRACT section 8; docs/evidence.md) ----

/** Every member of a bundle lives under this directory. */
export const BUNDLE_ROOT = "evidence/";
export const BUNDLE_FORMAT = "evident-evidence-bundle/1";

/** The artifact kind each `snapshot` member names (CONTRACT sections 1 and 6). */
const SNAPSHOT_KINDS = [
  ["prompt_version", "prompt"],
  ["tool_versions", "tool_schema"],
  ["model", "model"],
  ["retrieval_index_version", "retrieval_index"],
  ["workflow_version", "workflow"],
];

/** The `name@version` artifacts an entry's snapshot names: [{kind, name, version}]. */
export function snapshotRefs(entry) {
  const snapshot = entry.snapshot;
  if (!snapshot || typeof snapshot !== "object" || Array.isArray(snapshot)) return [];
  const refs = [];
  const add = (kind, value) => {
    if (typeof value !== "string") return;
    const at = value.indexOf("@");
    if (at < 0) return;
    refs.push({ kind, name: value.slice(0, at), version: value.slice(at + 1) });
  };
  for (const [member, kind] of SNAPSHOT_KINDS) {
    const value = snapshot[member];
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const tool of Object.keys(value)) add(kind, value[tool]);
    } else {
      add(kind, value);
    }
  }
  return refs;
}

/** Every `{"$blob": "sha256:<hex>"}` commitment anywhere in an entry. */
export function blobRefs(value, out = new Set()) {
  if (Array.isArray(value)) {
    for (const v of value) blobRefs(v, out);
  } else if (value && typeof value === "object") {
    if (typeof value.$blob === "string" && /^sha256:[0-9a-f]{64}$/.test(value.$blob)) out.add(value.$blob);
    for (const v of Object.values(value)) blobRefs(v, out);
  }
  return out;
}

/** policy_snapshot (CONTRACT 6): sha256 of RFC 8785 [[id, version, sha256], ...] sorted by id. */
export async function policySnapshotOf(versions) {
  const sorted = [...versions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Ids, versions and hex digests need no escaping beyond JSON.stringify's, which
  // equals RFC 8785 for strings of printable ASCII and for integers.
  const json = JSON.stringify(sorted.map((v) => [v.id, v.version, v.sha256]));
  return `sha256:${toHex(await sha256(json))}`;
}

/** The back-link chain of a trace or subject bundle; null if complete, else why not. */
function chainGap(held) {
  const sorted = [...held].sort((a, b) => (a.seq < b.seq ? 1 : a.seq > b.seq ? -1 : 0));
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (sorted[i].prev !== sorted[i + 1].seq) {
      const named = sorted[i].prev === null ? "null" : `seq ${sorted[i].prev}`;
      return { seq: sorted[i].seq, why: `its back-link names ${named}, not seq ${sorted[i + 1].seq}, the previous entry held` };
    }
  }
  const oldest = sorted[sorted.length - 1];
  if (oldest && oldest.prev !== null) {
    return { seq: oldest.seq, why: `the oldest entry held links to seq ${oldest.prev}, which the bundle does not hold` };
  }
  return null;
}

function parseJsonMember(members, path, failures) {
  try {
    return JSON.parse(decoder.decode(members.get(path)));
  } catch {
    failures.push({ member: path, seq: null, why: "not JSON" });
    return null;
  }
}

/**
 * Verifies a whole evidence bundle (the bytes of the .tar file). `key` is the pinned
 * verifier key; without it nothing is trusted unless `trustBundledKey` is set, and
 * then the report says the key was not pinned and `ok` stays false.
 */
export async function verifyBundle(bundleBytes, { key = null, trustBundledKey = false } = {}) {
  const failures = [];
  const notes = [];
  const report = { ok: false, keyPinned: Boolean(key), selection: null, checkpoint: null, entries: 0, blobs: 0, failures, notes };
  const fail = (member, seq, why) => failures.push({ member, seq, why });
  let members;
  try {
    members = readTar(bundleBytes);
  } catch (e) {
    fail(e.member ?? "(archive)", null, e.message);
    return report;
  }
  const path = (name) => BUNDLE_ROOT + name;
  for (const name of members.keys()) {
    if (!name.startsWith(BUNDLE_ROOT)) fail(name, null, "outside the evidence/ directory");
  }

  const bundledKey = members.has(path("log.vkey")) ? decoder.decode(members.get(path("log.vkey"))).trim() : null;
  let vkey = key ? key.trim() : null;
  if (!vkey) {
    if (!trustBundledKey || !bundledKey) {
      fail(path("log.vkey"), null, "the verifier key is not pinned: pass the log's key (trusting the bundled one is a quick look only)");
      return report;
    }
    notes.push("the verifier key was NOT pinned: the bundle's own key was trusted, so this proves nothing about which log it came from");
    vkey = bundledKey;
  } else if (bundledKey !== null && bundledKey !== vkey) {
    fail(path("log.vkey"), null, "differs from the pinned verifier key");
  }

  // The checkpoint.
  const checkpointBytes = members.get(path("checkpoint"));
  let checkpoint = null;
  if (!checkpointBytes) {
    fail(path("checkpoint"), null, "missing");
  } else {
    try {
      checkpoint = await openCheckpoint(checkpointBytes, vkey);
      report.checkpoint = { origin: checkpoint.origin, size: checkpoint.size.toString(), root: toBase64(checkpoint.root) };
    } catch (e) {
      fail(path("checkpoint"), null, `does not verify: ${e.message}`);
    }
  }
  const checkpointText = checkpointBytes ? new TextDecoder().decode(checkpointBytes) : null;

  // The manifest: a convenience, only used for what the bundle says it selected
  // and which blobs it says are erased or purged; each is checked below.
  const manifestPath = path("manifest.json");
  const manifest = members.has(manifestPath) ? parseJsonMember(members, manifestPath, failures) : null;
  if (!members.has(manifestPath)) fail(manifestPath, null, "missing");
  if (manifest && manifest.format !== BUNDLE_FORMAT) fail(manifestPath, null, `format is not ${BUNDLE_FORMAT}`);
  if (manifest && JSON.stringify(manifest, null, 2) !== decoder.decode(members.get(manifestPath))) {
    fail(manifestPath, null, "not in the one form this format writes");
  }
  const selection = manifest?.selection ?? null;
  report.selection = selection;

  // Entries and their proofs.
  const entries = new Map();
  for (const [name, bytes] of members) {
    const match = /^evidence\/entries\/(0|[1-9][0-9]*)\.json$/.exec(name);
    if (!match) continue;
    const seq = BigInt(match[1]);
    let entry;
    try {
      entry = JSON.parse(decoder.decode(bytes));
    } catch {
      fail(name, seq.toString(), "not a JSON entry");
      continue;
    }
    if (typeof entry !== "object" || entry === null || BigInt(entry.seq ?? -1) !== seq) {
      fail(name, seq.toString(), "its `seq` names another position");
      continue;
    }
    const proofName = path(`proofs/${seq}.tlog-proof`);
    const proofBytes = members.get(proofName);
    if (!proofBytes) {
      fail(proofName, seq.toString(), "missing: the entry has no inclusion proof");
      continue;
    }
    try {
      const proof = parseTlogProof(proofBytes);
      if (proof.index !== seq) throw new VerifyError(`its index is ${proof.index}, not ${seq}`);
      if (proof.checkpoint !== checkpointText) throw new VerifyError("its checkpoint is not the bundle's checkpoint");
      if (checkpoint) {
        await verifyInclusion(seq, checkpoint.size, await leafHash(bytes), checkpoint.root, proof.hashes);
      }
    } catch (e) {
      fail(`${name} / ${proofName}`, seq.toString(), `the entry is not proven in the checkpoint: ${e.message}`);
      continue;
    }
    entries.set(seq, entry);
  }
  report.entries = checkpoint ? entries.size : 0;
  for (const name of members.keys()) {
    const match = /^evidence\/proofs\/(0|[1-9][0-9]*)\.tlog-proof$/.exec(name);
    if (match && !members.has(path(`entries/${match[1]}.json`))) fail(name, match[1], "a proof of an entry the bundle does not hold");
  }

  // Blobs against their commitments.
  const erased = new Map((manifest?.blobs ?? []).filter((b) => b.status !== "included").map((b) => [b.ref, b.status]));
  const referenced = new Map();
  for (const [seq, entry] of entries) for (const ref of blobRefs(entry)) if (!referenced.has(ref)) referenced.set(ref, seq);
  for (const [ref, seq] of referenced) {
    const hex = ref.slice(7);
    const bytes = members.get(path(`blobs/${hex}`));
    const salt = members.get(path(`blobs/${hex}.salt`));
    if (bytes && salt) {
      if (!(await checkCommitment(ref, salt, bytes))) {
        fail(`${path(`blobs/${hex}`)} / ${path(`blobs/${hex}.salt`)}`, seq.toString(), `the payload and its salt do not open the commitment ${ref}`);
      } else {
        report.blobs += 1;
      }
    } else if (erased.has(ref) && !bytes && !salt) {
      notes.push(`blob ${ref} (seq ${seq}) is ${erased.get(ref)}: listed, not shipped`);
    } else {
      fail(path(`blobs/${hex}`), seq.toString(), `missing: the payload or salt of ${ref} is not in the bundle`);
    }
  }
  for (const name of members.keys()) {
    const match = /^evidence\/blobs\/([0-9a-f]{64})(\.salt)?$/.exec(name);
    if (match && !referenced.has(`sha256:${match[1]}`)) fail(name, null, "a blob no entry of the bundle references");
  }

  // Artifacts and policies against their publish entries.
  const artifactPublishes = new Map();
  const policyPublishes = new Map();
  for (const [seq, entry] of entries) {
    if (entry.event_type === "artifact_publish" && entry.artifact) {
      const a = entry.artifact;
      artifactPublishes.set(`${a.kind}/${a.name}@${a.version}`, { seq, hash: a.content_hash });
    }
    if (entry.event_type === "policy_publish" && entry.policy) {
      const p = entry.policy;
      policyPublishes.set(`${p.id}@${p.version}`, { seq, hash: p.sha256, id: p.id, version: p.version });
    }
  }
  for (const { seq, hash } of artifactPublishes.values()) {
    const name = path(`artifacts/${hash}.json`);
    const content = members.get(name);
    if (!content) fail(name, seq.toString(), "missing: the content of a published artifact");
    else if (toHex(await sha256(content)) !== hash) fail(name, seq.toString(), `its SHA-256 is not the content_hash of its artifact_publish entry (seq ${seq})`);
  }
  for (const { seq, hash } of policyPublishes.values()) {
    const name = path(`policies/${hash}.cedar`);
    const text = members.get(name);
    if (!text) fail(name, seq.toString(), "missing: the text of a published policy version");
    else if (toHex(await sha256(text)) !== hash) fail(name, seq.toString(), `its SHA-256 is not the sha256 of its policy_publish entry (seq ${seq})`);
  }
  const artifactHashes = new Set([...artifactPublishes.values()].map((a) => a.hash));
  const policyHashes = new Set([...policyPublishes.values()].map((p) => p.hash));
  for (const name of members.keys()) {
    let match = /^evidence\/artifacts\/([0-9a-f]{64})\.json$/.exec(name);
    if (match && !artifactHashes.has(match[1])) fail(name, null, "an artifact no artifact_publish entry of the bundle names");
    match = /^evidence\/policies\/([0-9a-f]{64})\.cedar$/.exec(name);
    if (match && !policyHashes.has(match[1])) fail(name, null, "a policy no policy_publish entry of the bundle names");
  }
  const unknown = new Set((manifest?.artifacts ?? []).filter((a) => a.unknown).map((a) => `${a.kind}/${a.name}@${a.version}`));
  const snapshots = new Map((manifest?.policy_snapshots ?? []).map((s) => [s.policy_snapshot, s.versions ?? []]));

  // The selection, its snapshots, and completeness.
  const selected = [];
  if (selection && typeof selection.kind === "string" && typeof selection.id === "string") {
    for (const [seq, entry] of entries) {
      const context = entry.context ?? {};
      const matches =
        (selection.kind === "trace" && entry.trace_id === selection.id) ||
        (selection.kind === "subject" && context.subject === selection.id) ||
        (selection.kind === "job" && context.job_id === selection.id) ||
        (selection.kind === "case" && context.case_id === selection.id);
      if (matches) selected.push([seq, entry]);
    }
    const listed = (manifest?.entries ?? []).map((s) => BigInt(s));
    for (const seq of listed) {
      if (!entries.has(seq) && !failures.some((f) => f.seq === seq.toString())) {
        fail(path(`entries/${seq}.json`), seq.toString(), "missing: the manifest lists it");
      }
    }
    if (selected.length === 0) fail(manifestPath, null, `no entry of the bundle belongs to its ${selection.kind} ${selection.id}`);
    for (const [seq, entry] of selected) {
      for (const ref of snapshotRefs(entry)) {
        const id = `${ref.kind}/${ref.name}@${ref.version}`;
        if (!artifactPublishes.has(id) && !unknown.has(id)) fail(path(`entries/${seq}.json`), seq.toString(), `its snapshot names ${id}, whose artifact_publish entry is not in the bundle`);
      }
      const digest = entry.snapshot?.policy_snapshot;
      if (typeof digest === "string" && entry.event_type !== "policy_publish") {
        const versions = snapshots.get(digest);
        if (!versions) {
          // A server event's snapshot is one Evident recorded: its versions must be here.
          // A client's is the client's claim, which the log may resolve to nothing.
          if (entry.actor?.type === "system") {
            fail(path(`entries/${seq}.json`), seq.toString(), `its policy_snapshot ${digest} names policy versions the bundle does not carry`);
          } else {
            notes.push(`seq ${seq} (sent by ${entry.actor?.id}) states policy_snapshot ${digest}, which names no policy versions this log published: the client's claim, not resolved`);
          }
          continue;
        }
        const named = [];
        for (const v of versions) {
          const p = policyPublishes.get(`${v.id}@${v.version}`);
          if (!p) {
            fail(path(`entries/${seq}.json`), seq.toString(), `policy ${v.id} version ${v.version} of its policy_snapshot has no policy_publish entry in the bundle`);
          } else {
            named.push({ id: p.id, version: p.version, sha256: p.hash });
          }
        }
        if (named.length === versions.length && (await policySnapshotOf(named)) !== digest) {
          fail(manifestPath, seq.toString(), `the policy versions it lists do not hash to the policy_snapshot ${digest}`);
        }
      }
    }
    if (selection.kind === "trace" || selection.kind === "subject") {
      const linkName = selection.kind === "trace" ? "trace_prev" : "subject_prev";
      const held = selected.map(([seq, entry]) => ({ seq, prev: entry[linkName] === null || entry[linkName] === undefined ? null : BigInt(entry[linkName]) }));
      const gap = held.length ? chainGap(held) : null;
      if (gap) fail(path(`entries/${gap.seq}.json`), gap.seq.toString(), `completeness: ${gap.why}`);
    } else {
      notes.push(`a ${selection.kind} bundle has no back-links to prove it complete`);
    }
  } else {
    fail(manifestPath, null, "names no selection");
  }
  if (checkpoint) notes.push(`entries after seq ${checkpoint.size - 1n} (the checkpoint's size ${checkpoint.size}) are not covered`);

  // What the manifest says of the entries and blobs must be what the bundle holds.
  if (manifest && selection) {
    const selectedSeqs = selected.map(([seq]) => seq).sort((a, b) => (a < b ? -1 : 1));
    const supportingSeqs = [...entries.keys()].filter((seq) => !selectedSeqs.includes(seq)).sort((a, b) => (a < b ? -1 : 1));
    const same = (a, b) => Array.isArray(b) && a.length === b.length && a.every((x, i) => x === BigInt(b[i]));
    if (!same(selectedSeqs, manifest.entries)) fail(manifestPath, null, "its `entries` are not the selected entries the bundle holds");
    if (!same(supportingSeqs, manifest.supporting)) fail(manifestPath, null, "its `supporting` are not the other entries the bundle holds");
    const listed = new Map();
    for (const b of manifest.blobs ?? []) {
      if (listed.has(b.ref)) fail(manifestPath, String(b.seq), `lists blob ${b.ref} twice`);
      listed.set(b.ref, b);
    }
    for (const [ref, seq] of referenced) {
      const l = listed.get(ref);
      listed.delete(ref);
      const shipped = members.has(path(`blobs/${ref.slice(7)}`));
      if (!l) fail(manifestPath, seq.toString(), `does not list blob ${ref}`);
      else if (BigInt(l.seq) !== seq || (l.status === "included") !== shipped) fail(manifestPath, seq.toString(), `its listing of blob ${ref} is not what the bundle holds`);
      else if (!["included", "erased", "purged"].includes(l.status)) fail(manifestPath, seq.toString(), `blob ${ref}: unknown status ${l.status}`);
    }
    for (const ref of listed.keys()) fail(manifestPath, null, `lists blob ${ref}, which no entry references`);
  }

  // The manifest's digests: a bundle whose members differ from its manifest was changed.
  if (manifest && Array.isArray(manifest.members)) {
    const listed = new Set();
    for (const m of manifest.members) {
      listed.add(m.path);
      // Which of the two changed cannot be told: both are named.
      const bytes = members.get(m.path);
      if (!bytes) fail(`${m.path} / ${manifestPath}`, null, "missing: listed in the manifest");
      else if (toHex(await sha256(bytes)) !== m.sha256) fail(`${m.path} / ${manifestPath}`, null, "its SHA-256 differs from the manifest's");
    }
    for (const name of members.keys()) {
      if (name !== manifestPath && !listed.has(name)) fail(`${name} / ${manifestPath}`, null, "not listed in the manifest");
    }
  } else if (manifest) {
    fail(manifestPath, null, "lists no members");
  }

  report.ok = failures.length === 0;
  return report;
}
