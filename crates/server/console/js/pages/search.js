// Search: every filter of `POST /api/v1/events/search` and full text, a page of
// results at a time. Paging follows the server's cursors (in `seq` order), so no row
// is skipped or repeated; earlier pages are re-read from the cursors kept here.
// Filters stay in memory (a clear subject id never goes into a URL).

import { api, may } from '../api.js';
import { h, link, clear, field, status } from '../dom.js';
import { summary, time } from '../format.js';
import { subjectToken } from './reveal.js';

export const PAGE_SIZE = 50;

const CLIENT_TYPES = ['model_call', 'tool_call', 'tool_result', 'retrieval', 'agent_run', 'decision', 'guardrail', 'human_review', 'external_action', 'error', 'step'];
const SERVER_TYPES = ['policy_decision', 'approval_request', 'approval_resolution', 'alert', 'alert_update', 'policy_publish', 'policy_rollback', 'artifact_publish', 'label_move', 'retention_purge', 'legal_hold', 'subject_erasure', 'vault_access', 'key_change', 'config_change', 'agent_suspension', 'access_log_checkpoint'];

// The filters and the cursors of the pages seen: cursors[i] opens page i.
const state = { filters: {}, cursors: [null], page: 0 };

/** Opens the search page with these filters (links from other pages use it). */
export function searchFor(filters) {
  state.filters = filters;
  state.cursors = [null];
  state.page = 0;
  if (location.hash === '#/search') window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = '#/search';
}

function filterLink(name, value, text) {
  return h('a', {
    href: '#/search',
    onclick: (e) => {
      e.preventDefault();
      searchFor({ [name]: value });
    },
  }, text ?? value);
}

export async function render(main) {
  const inputs = {
    q: h('input', { type: 'search', placeholder: 'words, "exact phrase", prefix*' }),
    subject: h('input', { type: 'text', placeholder: 'clear id or subj_ token', autocomplete: 'off' }),
    agent: h('input', { type: 'text' }),
    type: h('select', {}, h('option', { value: '' }, 'any'),
      h('optgroup', { label: 'Agent events' }, CLIENT_TYPES.map((t) => h('option', { value: t }, t))),
      h('optgroup', { label: 'Server events' }, SERVER_TYPES.map((t) => h('option', { value: t }, t)))),
    trace_id: h('input', { type: 'text' }),
    job_id: h('input', { type: 'text' }),
    case_id: h('input', { type: 'text' }),
    from: h('input', { type: 'datetime-local', step: 1 }),
    to: h('input', { type: 'datetime-local', step: 1 }),
  };
  for (const [name, input] of Object.entries(inputs)) {
    const value = state.filters[name];
    if (value) input.value = name === 'from' || name === 'to' ? value.replace(/Z$/, '') : value;
  }
  const results = h('div', { id: 'results' });
  const form = h('form', {
    class: 'filters',
    role: 'search',
    onsubmit: (e) => {
      e.preventDefault();
      const filters = {};
      for (const [name, input] of Object.entries(inputs)) {
        const value = input.value.trim();
        if (!value) continue;
        filters[name] = name === 'from' || name === 'to' ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
      }
      state.filters = filters;
      state.cursors = [null];
      state.page = 0;
      load(results);
    },
  },
  h('div', { class: 'wide' }, field('Full text', inputs.q)),
  h('div', { class: 'wide' }, field('Subject', inputs.subject, 'a clear id is sent in the request body only')),
  field('Agent', inputs.agent), field('Event type', inputs.type), field('Trace', inputs.trace_id),
  field('Job', inputs.job_id), field('Case', inputs.case_id),
  field('From (UTC)', inputs.from), field('To (UTC)', inputs.to),
  h('div', { class: 'actions go' }, h('button', { type: 'submit' }, 'Search'),
    h('button', {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        state.filters = {};
        for (const input of Object.values(inputs)) input.value = '';
        state.cursors = [null];
        state.page = 0;
        load(results);
      },
    }, 'Clear')));
  main.append(h('h1', {}, 'Search'),
    h('p', { class: 'lead' }, `Events in log order, ${PAGE_SIZE} at a time. Subjects appear as tokens${may(['privacy']) ? '; you may reveal one, giving a reason that is logged' : ''}.`),
    form, results);
  await load(results);
}

async function load(results) {
  clear(results).append(status('info', 'Searching…'));
  let answer;
  try {
    answer = await api('/api/v1/events/search', {
      method: 'POST',
      body: { ...state.filters, limit: String(PAGE_SIZE), cursor: state.cursors[state.page] || undefined },
    });
  } catch (e) {
    clear(results).append(status('error', `The search was refused: ${e.message}`));
    results.dataset.loads = String(Number(results.dataset.loads || 0) + 1);
    return;
  }
  clear(results);
  // How many searches this page has shown (tests wait for the next one).
  results.dataset.loads = String(Number(results.dataset.loads || 0) + 1);
  state.cursors[state.page + 1] = answer.next_cursor;
  const rows = answer.events.map((record) => h('tr', {},
    h('td', { class: 'num mono' }, String(record.seq)),
    h('td', { class: 'mono' }, time(record.timestamp).replace(' UTC', '')),
    h('td', {}, filterLink('agent', record.actor?.id ?? '')),
    h('td', {}, filterLink('type', record.event_type)),
    h('td', { class: 'clip' }, link(['trace', record.trace_id], record.trace_id)),
    h('td', { class: 'clip' }, record.context?.job_id ? filterLink('job_id', record.context.job_id) : ''),
    h('td', {}, record.context?.subject ? subjectToken(record.context.subject, () => searchFor({ subject: record.context.subject })) : ''),
    h('td', { class: 'wrap' }, summary(record))));
  const pager = h('nav', { class: 'pager', 'aria-label': 'Result pages' },
    h('button', {
      type: 'button', class: 'secondary', disabled: state.page === 0,
      onclick: () => { state.page -= 1; load(results); },
    }, '← Previous'),
    h('span', { 'aria-live': 'polite' }, answer.events.length
      ? `Page ${state.page + 1} · seq ${answer.events[0].seq}–${answer.events[answer.events.length - 1].seq}`
      : `Page ${state.page + 1} · no events`),
    h('button', {
      type: 'button', class: 'secondary', disabled: !answer.next_cursor,
      onclick: () => { state.page += 1; load(results); },
    }, 'Next →'),
    h('span', { class: 'muted' }, `searchable through seq ${answer.indexed_through ?? '—'}`));
  if (!answer.events.length) {
    results.append(status('info', 'No events match.'), pager);
    return;
  }
  results.append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Events found' },
    h('thead', {}, h('tr', {}, ['seq', 'timestamp (UTC)', 'agent', 'type', 'trace', 'job', 'subject', 'what'].map((c, i) => h('th', { scope: 'col', class: i === 0 ? 'num' : null }, c)))),
    h('tbody', {}, rows))), pager);
}
