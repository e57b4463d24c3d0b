// Log status: tree size, the latest signed checkpoint, its witnesses, the last
// verification; and the verifier key this browser pins.

import { api } from '../api.js';
import { h, status } from '../dom.js';
import { count } from '../format.js';
import { pinnedKey, pinKey } from '../verify.js';

export async function render(main) {
  const log = await api('/api/v1/log');
  const pinned = pinnedKey();
  const keyState = h('div', { 'aria-live': 'polite' });
  const showKeyState = () => {
    const p = pinnedKey();
    keyState.replaceChildren(!p ? status('warn', 'No key is pinned in this browser: verification uses the key the server serves.')
      : p === log.verifier_key ? status('ok', 'The pinned key is the one this server serves.')
        : status('error', 'The pinned key differs from the one this server serves: its checkpoints will not verify against your pin.'));
  };
  const input = h('input', { type: 'text', value: pinned ?? log.verifier_key, spellcheck: 'false', class: 'mono', size: 70, 'aria-label': 'Verifier key to pin' });
  main.append(h('h1', {}, 'Log status'),
    h('p', { class: 'lead' }, `The append-only Merkle log “${log.origin}”.`),
    h('dl', { class: 'kv' }, [
      ['entries', count(log.tree_size)],
      ['not yet checkpointed', String(log.pending ?? 0)],
      ['verifier key', h('span', { class: 'mono' }, log.verifier_key)],
      ['witnesses', log.witnesses && log.witnesses.length ? JSON.stringify(log.witnesses) : 'none configured'],
      ['last verification', log.last_verify ? JSON.stringify(log.last_verify) : 'not run in the background on this server'],
    ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Latest signed checkpoint'), h('pre', { class: 'json checkpoint' }, log.checkpoint ?? '(none yet)'),
    h('h2', {}, 'Pin the verifier key'),
    h('p', { class: 'muted' }, 'Get the key from a source you trust (the output of evident init, your operator), not only from this page. Pinned, it is kept in this browser and every check uses it.'),
    h('div', { class: 'actions' }, input,
      h('button', { type: 'button', onclick: () => { pinKey(input.value.trim()); showKeyState(); } }, 'Pin'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { pinKey(null); showKeyState(); } }, 'Forget')),
    keyState);
  showKeyState();
}
