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

/** The event's entry bytes, from the entry bundle (C2SP tlog-tiles) that holds it. */
async function entryBytes(seq, treeSize, v) {
  const tile = Math.floor(seq / 256);
  const full = Math.floor(treeSize / 256);
  const width = tile < full ? 256 : treeSize % 256;
  const path = `/tile/entries/${v.tileIndexPath(tile)}${width === 256 ? '' : `.p/${width}`}`;
  const response = await api(path, { raw: true });
  const entries = v.parseEntryBundle(new Uint8Array(await response.arrayBuffer()));
  return entries[seq % 256];
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
    step('A checkpoint covers the event', false, 'not yet: try again in a second');
    return steps;
  }
  const { key, source } = await verifierKey();
  step('Verifier key', true, source);
  const checkpoint = await v.verifyCheckpoint(answer.checkpoint, key).catch((e) => ({ error: e.message }));
  if (!step('The checkpoint’s signature verifies under that key', !checkpoint.error, checkpoint.error ?? `${checkpoint.origin}, size ${checkpoint.size}`)) return steps;
  const entry = await entryBytes(answer.seq, answer.proof.tree_size, v);
  const leaf = v.toBase64(await v.leafHash(entry));
  step('The entry’s bytes hash to the proof’s leaf', leaf === answer.proof.leaf_hash && leaf === answer.leaf_hash, `leaf ${leaf}`);
  const record = JSON.parse(new TextDecoder().decode(entry));
  step('The entry is this event', record.event_id === eventId && record.seq === undefined ? true : record.event_id === eventId, `${record.event_type} ${record.event_id}`);
  const included = await v.verifyInclusion({
    leafHash: v.fromBase64(leaf),
    index: answer.seq,
    treeSize: answer.proof.tree_size,
    proof: answer.proof.hashes.map(v.fromBase64),
    rootHash: checkpoint.rootHash,
  }).then(() => ({ ok: true }), (e) => ({ ok: false, error: e.message }));
  step('The inclusion proof leads to the checkpoint’s root', included.ok && answer.proof.tree_size === checkpoint.size,
    included.ok ? `seq ${answer.seq} in a tree of ${checkpoint.size}` : included.error);
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
