// Legal holds (admin, privacy) and the read-access log (admin, auditor).

import { api } from '../api.js';
import { h, clear, field, status, ask } from '../dom.js';
import { time } from '../format.js';

const PAGE = 50;

export async function renderHolds(main) {
  main.append(h('h1', {}, 'Legal holds'),
    h('p', { class: 'lead' }, 'While a hold is in force, retention and erasure skip what it covers. Placing and lifting are events in the log.'));
  const list = h('div', {});
  const scope = h('select', {}, ['subject', 'trace_id', 'job_id', 'case_id'].map((s) => h('option', { value: s }, s)));
  const value = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const reason = h('input', { type: 'text', required: true });
  const out = h('div', {});
  main.append(h('form', {
    class: 'filters',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('/api/v1/legal-holds', { method: 'POST', body: { [scope.value]: value.value.trim(), reason: reason.value.trim() } });
        out.replaceChildren(status('ok', 'Hold placed.'));
        value.value = '';
        reason.value = '';
        await load(list);
      } catch (err) {
        out.replaceChildren(status('error', `Not placed: ${err.message}`));
      }
    },
  }, field('Scope', scope), field('Id', value), h('div', { class: 'wide' }, field('Reason', reason)), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Place hold'))), out, list);
  await load(list);
}

async function load(list) {
  const answer = await api('/api/v1/legal-holds');
  const holds = answer.holds ?? answer;
  clear(list);
  if (!holds.length) {
    list.append(status('info', 'No legal hold was ever placed.'));
    return;
  }
  list.append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Legal holds' },
    h('thead', {}, h('tr', {}, ['hold', 'covers', 'reason', 'placed', 'state', ''].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, holds.map((hold) => h('tr', {},
      h('td', { class: 'mono' }, hold.hold_id ?? hold.id),
      h('td', { class: 'mono clip' }, Object.entries(hold.scope ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') || JSON.stringify(hold.scope ?? {})),
      h('td', {}, hold.reason ?? ''),
      h('td', { class: 'mono' }, time(hold.placed_at)),
      h('td', {}, h('span', { class: `pill ${hold.active ? 'warn' : ''}` }, hold.active ? 'in force' : 'lifted')),
      h('td', {}, hold.active ? h('button', {
        type: 'button',
        class: 'small secondary',
        onclick: async () => {
          const reason = await ask({ title: 'Lift the legal hold', label: 'Why may it be lifted? (logged)', confirm: 'Lift' });
          if (!reason) return;
          await api(`/api/v1/legal-holds/${encodeURIComponent(hold.hold_id ?? hold.id)}`, { method: 'DELETE', body: { reason } });
          await load(list);
        },
      }, 'Lift') : '')))))));
}

export async function renderAccess(main) {
  main.append(h('h1', {}, 'Access log'),
    h('p', { class: 'lead' }, 'Who read which events, traces, subjects and blobs, with which key. Batches are anchored in the log. Accesses of the last second may not be listed yet.'));
  const key = h('input', { type: 'text' });
  const from = h('input', { type: 'datetime-local', step: 1 });
  const to = h('input', { type: 'datetime-local', step: 1 });
  const list = h('div', {});
  const iso = (v) => (v ? `${v.length === 16 ? `${v}:00` : v}Z` : '');
  const cursors = [null];
  let index = 0;
  const load = async () => {
    const answer = await api('/api/v1/access-log', { query: { key: key.value.trim(), from: iso(from.value), to: iso(to.value), limit: String(PAGE), cursor: cursors[index] } });
    cursors[index + 1] = answer.next_cursor;
    clear(list);
    if (!answer.records.length) {
      list.append(status('info', 'No accesses match.'));
    } else {
      list.append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Access records' },
        h('thead', {}, h('tr', {}, ['#', 'when', 'key', 'role', 'request', 'status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, answer.records.map((r) => h('tr', {},
          h('td', { class: 'num' }, String(r.seq)), h('td', { class: 'mono' }, time(r.at)), h('td', {}, r.key), h('td', {}, r.role),
          h('td', { class: 'mono clip' }, `${r.method} ${r.path}${r.query ? `?${r.query}` : ''}`), h('td', { class: 'num' }, String(r.status))))))));
    }
    list.append(h('nav', { class: 'pager', 'aria-label': 'Access log pages' },
      h('button', { type: 'button', class: 'secondary', disabled: index === 0, onclick: () => { index -= 1; load(); } }, '← Previous'),
      h('span', {}, `Page ${index + 1}`),
      h('button', { type: 'button', class: 'secondary', disabled: !answer.next_cursor, onclick: () => { index += 1; load(); } }, 'Next →')));
  };
  main.append(h('form', {
    class: 'filters',
    onsubmit: (e) => {
      e.preventDefault();
      cursors.length = 1;
      index = 0;
      load();
    },
  }, field('Key name', key), field('From (UTC)', from), field('To (UTC)', to), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Filter'))), list);
  await load();
}
