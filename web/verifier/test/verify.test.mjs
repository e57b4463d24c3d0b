// Tests of evident-verify.js against output of the real server: the bundles (and
// their changed copies) that crates/cli/tests/evidence.rs exports with the `evident`
// binary and lists in the file named by EVIDENT_VERIFY_CASES. Run from that test
// (`node --test web/verifier/test/`); alone, only the self-contained tests run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  checkCommitment,
  leafHash,
  nodeHash,
  openCheckpoint,
  parseTlogProof,
  readTar,
  toHex,
  verifyBundle,
  verifyInclusion,
  verifyTlogProof,
  fromBase64,
} from "../evident-verify.js";

const casesFile = process.env.EVIDENT_VERIFY_CASES;
const fixture = casesFile ? JSON.parse(readFileSync(casesFile, "utf8")) : null;

test("RFC 6962 hashes of known values", async () => {
  // The roots of the trees of the first one and two leaves ("" and 0x00) of
  // Certificate Transparency's RFC 6962 test vectors.
  assert.equal(toHex(await leafHash(new Uint8Array())), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const a = await leafHash(new Uint8Array());
  const b = await leafHash(Uint8Array.of(0));
  assert.equal(toHex(await nodeHash(a, b)), "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125");
});

test("an inclusion proof of a small tree, and its changes refused", async () => {
  const leaves = await Promise.all(["a", "b", "c"].map((x) => leafHash(x)));
  const ab = await nodeHash(leaves[0], leaves[1]);
  const root = await nodeHash(ab, leaves[2]);
  await verifyInclusion(2n, 3n, leaves[2], root, [ab]);
  await verifyInclusion(0n, 3n, leaves[0], root, [leaves[1], leaves[2]]);
  await assert.rejects(verifyInclusion(1n, 3n, leaves[0], root, [leaves[1], leaves[2]]));
  await assert.rejects(verifyInclusion(2n, 3n, leaves[2], root, [ab, ab]));
  await assert.rejects(verifyInclusion(3n, 3n, leaves[2], root, [ab]));
});

test("commitments: SHA-256(salt || bytes)", async () => {
  const salt = new Uint8Array(32).fill(7);
  const bytes = new TextEncoder().encode("{}");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array([...salt, ...bytes])));
  const ref = `sha256:${toHex(digest)}`;
  assert.ok(await checkCommitment(ref, salt, bytes));
  assert.ok(!(await checkCommitment(ref, new Uint8Array(32).fill(8), bytes)));
  assert.ok(!(await checkCommitment(ref, salt.slice(1), bytes)));
});

test("the server's checkpoint and tlog-proofs verify; changed ones do not", { skip: !fixture }, async () => {
  const good = fixture.cases.find((c) => c.ok);
  const members = readTar(readFileSync(good.file));
  const note = members.get("evidence/checkpoint");
  const checkpoint = await openCheckpoint(note, fixture.key);
  assert.equal(checkpoint.origin, "test.example/log");
  const changed = new TextDecoder().decode(note).replace(/\n(\d+)\n/, (_, n) => `\n${BigInt(n) + 1n}\n`);
  await assert.rejects(openCheckpoint(changed, fixture.key));
  const proofs = [...members.keys()].filter((k) => k.endsWith(".tlog-proof"));
  assert.ok(proofs.length > 0);
  for (const name of proofs) {
    const seq = /(\d+)\.tlog-proof$/.exec(name)[1];
    const entry = members.get(`evidence/entries/${seq}.json`);
    const verified = await verifyTlogProof(members.get(name), entry, fixture.key);
    assert.equal(verified.size, checkpoint.size);
    assert.equal(parseTlogProof(members.get(name)).index, BigInt(seq));
    const other = new Uint8Array(entry);
    other[other.length - 2] ^= 1;
    await assert.rejects(verifyTlogProof(members.get(name), other, fixture.key));
  }
  // Keys are parsed whole: a base64 public key may hold '+'.
  assert.throws(() => fromBase64("not base64!"));
});

test("bundles: the good one verifies, each changed copy fails naming its member", { skip: !fixture }, async () => {
  for (const c of fixture.cases) {
    const report = await verifyBundle(readFileSync(c.file), { key: fixture.key });
    if (c.ok) {
      assert.deepEqual(report.failures, [], "the exported bundle verifies");
      assert.ok(report.ok && report.keyPinned);
      assert.ok(report.notes.some((n) => n.includes("erased")), "erased payloads are listed");
      continue;
    }
    assert.equal(report.ok, false, `${c.name} is refused`);
    const named = report.failures.filter((f) => f.member === c.member || f.member.split(" / ").includes(c.member));
    assert.ok(named.length > 0, `${c.name}: a failure names ${c.member}: ${JSON.stringify(report.failures)}`);
    assert.ok(named.some((f) => f.why.includes(c.says)), `${c.name}: says ${c.says}: ${JSON.stringify(named)}`);
  }
});

test("bundles: the key must be pinned", { skip: !fixture }, async () => {
  const good = fixture.cases.find((c) => c.ok);
  const bytes = readFileSync(good.file);
  const unpinned = await verifyBundle(bytes, {});
  assert.equal(unpinned.ok, false);
  assert.ok(unpinned.failures.some((f) => f.why.includes("not pinned")));
  const quick = await verifyBundle(bytes, { trustBundledKey: true });
  assert.equal(quick.ok, true);
  assert.equal(quick.keyPinned, false);
  assert.ok(quick.notes.some((n) => n.includes("NOT pinned")));
});
