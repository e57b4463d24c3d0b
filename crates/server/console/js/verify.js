// "Verify" in the browser: the event's inclusion proof checked against the signed
// checkpoint by this machine, with the standalone verifier (`verifier/
// evident-verify.js`, the same one evidence bundles carry), under the verifier key
// pinned in this browser, or else the one the server serves (the page says which).

import { api } from './api.js';
import { h, status } from './dom.js';

const PIN = 'evident.pinnedVerifierKey';

export function pinnedKey() {
  return localStorage.getItem(PIN);
}

export function pinKey(key) {
  if (key) localStorage.setItem(PIN, key);
  else localStorage.removeItem(PIN);
}

/** The verifier key to use and where it came from. */
export async function verifierKey() {
  const pinned = pinnedKey();
  if (pinned) return { key: pinned, source: 'pinned in this browser' };
  const log = await api('/api/v1/log');
  return { key: log.verifier_key, source: 'served by this server (not pinned: pin it on Log status)' };
}

/** Loads the verifier module on first use. */
export function verifier() {
  return import('./verifier/evident-verify.js');
}

/** C2SP tlog-tiles index path: groups of three digits, all but the last with `x`. */
function tileIndexPath(n) {
  const digits = String(n).padStart(3, '0');
  const groups = [];
  for (let end = digits.length; end > 0; end -= 3) groups.unshift(digits.slice(Math.max(0, end - 3), end).padStart(3, '0'));
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** The entries of an entry bundle: each a big-endian uint16 length, then the bytes. */
function parseEntryBundle(bytes) {
  const entries = [];
  for (let at = 0; at < bytes.length;) {
    if (at + 2 > bytes.length) throw new Error('entry bundle cut short');
    const length = (bytes[at] << 8) | bytes[at + 1];
    entries.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}

/** The event's entry bytes, from the entry bundle (C2SP tlog-tiles) that holds it. */
async function entryBytes(seq, treeSize) {
  const tile = Math.floor(seq / 256);
  const width = tile < Math.floor(treeSize / 256) ? 256 : treeSize % 256;
  const path = `/tile/entries/${tileIndexPath(tile)}${width === 256 ? '' : `.p/${width}`}`;
  const response = await api(path, { raw: true });
  const entry = parseEntryBundle(new Uint8Array(await response.arrayBuffer()))[seq % 256];
  if (!entry) throw new Error(`the entry bundle lacks seq ${seq}`);
  return entry;
}

/** Runs every check; returns [{label, ok, detail}]. */
export async function verifyEvent(eventId) {
  const v = await verifier();
  const steps = [];
  const step = (label, ok, detail) => {
    steps.push({ label, ok, detail });
    return ok;
  };
  const answer = await api(`/api/v1/events/${encodeURIComponent(eventId)}`, { query: { proof: 'true' } });
  if (answer.pending) {
    step('A signed checkpoint covers the event', false, 'not yet: try again in a second');
    return steps;
  }
  const { key, source } = await verifierKey();
  step('Verifier key', true, source);
  let checkpoint;
  try {
    checkpoint = await v.openCheckpoint(answer.checkpoint, key);
  } catch (e) {
    step('The checkpoint’s signature verifies under that key', false, e.message);
    return steps;
  }
  step('The checkpoint’s signature verifies under that key', true, `${checkpoint.origin}, ${checkpoint.size} entries`);
  // The entry as the log holds it (tokens and payload commitments, no clear values).
  const entry = await entryBytes(answer.seq, answer.proof.tree_size);
  const leaf = await v.leafHash(entry);
  const record = JSON.parse(new TextDecoder().decode(entry));
  step('The log’s entry at this seq is this event', record.event_id === eventId, `seq ${answer.seq}: ${record.event_type} ${record.event_id}`);
  step('The entry hashes to the leaf the server states', v.toBase64(leaf) === answer.leaf_hash, `leaf ${v.toBase64(leaf)}`);
  try {
    if (BigInt(answer.proof.tree_size) !== checkpoint.size) throw new Error(`the proof is for a tree of ${answer.proof.tree_size}, the checkpoint has ${checkpoint.size}`);
    await v.verifyInclusion(answer.seq, checkpoint.size, leaf, checkpoint.root, answer.proof.hashes.map(v.fromBase64));
    step('The inclusion proof leads from the entry to the checkpoint’s root', true, `${answer.proof.hashes.length} hashes`);
  } catch (e) {
    step('The inclusion proof leads from the entry to the checkpoint’s root', false, e.message);
  }
  return steps;
}

/** The verify button with its result list. */
export function verifyPanel(eventId) {
  const out = h('div', { 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button',
    onclick: async () => {
      button.disabled = true;
      out.replaceChildren(status('info', 'Checking in this browser…'));
      try {
        const steps = await verifyEvent(eventId);
        const ok = steps.every((s) => s.ok);
        out.replaceChildren(
          status(ok ? 'ok' : 'error', ok ? 'Verified by this browser: the event is in the signed log.' : 'Verification FAILED: this record is not proven to be in the signed log.'),
          h('ul', { class: 'steps' }, steps.map((s) => h('li', {}, h('span', { class: `pill ${s.ok ? 'ok' : 'bad'}` }, s.ok ? 'ok' : 'fail'), ` ${s.label}`, s.detail ? h('span', { class: 'muted' }, ` — ${s.detail}`) : ''))));
      } catch (e) {
        out.replaceChildren(status('error', `Verification FAILED: ${e.message}`));
      } finally {
        button.disabled = false;
      }
    },
  }, 'Verify in this browser');
  return h('section', { class: 'verify', 'aria-label': 'Verification' }, h('h3', {}, 'Is this record in the signed log?'), button, out);
}
