// Approvals: the queue (a page at a time, oldest first), and one request with its
// draft, the policy rule and reason that required a person, and, for an approver,
// approve / reject / edit (the final beside the draft, line by line) with a comment.
// The server binds each answer to the draft's `job_hash`.

import { api, may } from '../api.js';
import { h, link, clear, field, json, status } from '../dom.js';
import { time, age } from '../format.js';

const PAGE = 50;
const RESOLVERS = ['approver', 'admin'];
let showResolved = false;

export async function render(main) {
  const toggle = h('input', { type: 'checkbox', checked: showResolved, id: 'show-resolved' });
  toggle.addEventListener('change', () => {
    showResolved = toggle.checked;
    main.replaceChildren();
    render(main);
  });
  main.append(h('h1', {}, 'Approvals'),
    h('p', { class: 'lead' }, may(RESOLVERS) ? 'Requests that a policy sent to a person. Open one to approve, reject or edit it.' : 'Requests that a policy sent to a person. Your role reads them; approvers resolve them.'),
    h('div', { class: 'actions' }, toggle, h('label', { for: 'show-resolved' }, 'Include resolved requests')));
  const list = h('div', {});
  main.append(list);
  await page(list, null, 0);
}

async function page(list, cursor, index) {
  const answer = await api('/api/v1/approvals', { query: { include_resolved: String(showResolved), limit: String(PAGE), cursor } });
  clear(list);
  if (!answer.approvals.length) {
    list.append(status('info', showResolved ? 'No approval requests yet.' : 'Nothing waits for a person.'));
    return;
  }
  const now = Date.now();
  list.append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Approval requests' },
    h('thead', {}, h('tr', {}, ['request', 'action', 'job', 'state', 'opened', 'waiting', 'asked by'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, answer.approvals.map((a) => h('tr', {},
      h('td', { class: 'mono' }, link(['approval', a.approval_id], a.approval_id)),
      h('td', {}, a.action),
      h('td', { class: 'clip' }, a.job_id),
      h('td', {}, h('span', { class: `pill ${a.state === 'open' ? 'warn' : a.state === 'rejected' || a.state === 'expired' ? 'bad' : 'ok'}` }, a.state)),
      h('td', { class: 'mono' }, time(a.opened_at)),
      h('td', {}, a.state === 'open' ? age((now - Date.parse(a.opened_at)) / 1000) : '—'),
      h('td', {}, a.requested_by)))))));
  if (answer.next_cursor || index > 0) {
    list.append(h('nav', { class: 'pager', 'aria-label': 'Approval pages' },
      h('span', {}, `Page ${index + 1}`),
      h('button', { type: 'button', class: 'secondary', disabled: !answer.next_cursor, onclick: () => page(list, answer.next_cursor, index + 1) }, 'Next →')));
  }
}

/** Lines of a side-by-side diff (longest common subsequence of lines). */
export function lineDiff(before, after) {
  const a = before.split('\n');
  const b = after.split('\n');
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const left = [];
  const right = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      left.push([a[i++], '']);
      right.push([b[j++], '']);
    } else if (j < m && (i === n || lcs[i][j + 1] >= lcs[i + 1][j])) {
      right.push([b[j++], 'add']);
    } else {
      left.push([a[i++], 'del']);
    }
  }
  return { left, right };
}

function diffView(draft, final) {
  const { left, right } = lineDiff(JSON.stringify(draft, null, 2), JSON.stringify(final, null, 2));
  const column = (lines, label) => h('div', {}, h('h3', {}, label), h('pre', { 'aria-label': label }, lines.map(([text, kind]) => h('span', { class: `line ${kind}` }, kind === 'del' ? `- ${text}` : kind === 'add' ? `+ ${text}` : `  ${text}`))));
  return h('div', { class: 'diff' }, column(left, 'Draft (as requested)'), column(right, 'Final (as edited)'));
}

export async function renderOne(main, args) {
  const id = args[0];
  const a = await api(`/api/v1/approvals/${encodeURIComponent(id)}`);
  // The rule and reason: the request event's `decision.reason`, and the rule of the
  // policy decision that opened it (its parent), when a decision did.
  let reason = null;
  let rule = null;
  try {
    const request = await api(`/api/v1/events/${encodeURIComponent(a.request_event_id)}`);
    reason = request.record.decision?.reason ?? null;
    if (request.record.parent_event_id) {
      const parent = await api(`/api/v1/events/${encodeURIComponent(request.record.parent_event_id)}`);
      rule = parent.record.decision?.policy_rule_id ?? parent.record.decision?.rule_id ?? null;
      reason = reason ?? parent.record.decision?.reason ?? null;
    }
  } catch {
    // The request stands on its own; rule and reason stay unknown.
  }
  main.append(h('p', {}, h('a', { href: '#/approvals' }, '← Approvals')),
    h('h1', {}, 'Approval request ', h('span', { class: 'mono' }, a.approval_id)),
    h('dl', { class: 'kv' },
      [['action', a.action], ['state', h('span', { class: 'pill' }, a.state)], ['job', a.job_id],
        ['trace', link(['trace', a.trace_id], a.trace_id)],
        ['policy rule', rule ?? 'none named (opened by the agent directly)'], ['reason', reason ?? '—'],
        ['asked by', a.requested_by], ['opened', time(a.opened_at)], ['expires', time(a.expires_at)],
        ['job hash', h('span', { class: 'mono' }, a.job_hash)],
        a.resolution ? ['resolution', `${a.resolution} by ${a.resolved_by} (${a.method ?? 'api'}) at ${time(a.resolved_at)}`] : null,
        a.approved_job_hash ? ['approved hash', h('span', { class: 'mono' }, a.approved_job_hash)] : null]
        .filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
  if (a.draft_erased) main.append(status('warn', 'The draft was erased with its subject.'));
  if (a.final !== undefined) {
    main.append(h('h2', {}, 'Edit'), diffView(a.draft, a.final));
  } else if (a.draft !== undefined) {
    main.append(h('section', { id: 'draft-block' }, h('h2', {}, 'Draft'), json(a.draft)));
  }
  if (a.history?.length) {
    main.append(h('h2', {}, 'History'), h('ul', {}, a.history.map((r) => h('li', {}, `${time(r.resolved_at ?? r.at)} · ${r.resolution} by ${r.resolved_by}${r.comment ? ` — “${r.comment}”` : ''}`))));
  }
  if (a.state === 'open' && may(RESOLVERS)) main.append(resolveForm(a, main));
}

function resolveForm(a, main) {
  const comment = h('input', { type: 'text', autocomplete: 'off' });
  const final = h('textarea', { rows: 8, spellcheck: 'false' }, JSON.stringify(a.draft ?? {}, null, 2));
  const preview = h('div', { 'aria-live': 'polite' });
  const out = h('div', {});
  const editing = h('div', { hidden: true, class: 'editing' }, field('Final (JSON): what may be done instead', final), preview);
  final.addEventListener('input', () => {
    try {
      preview.replaceChildren(diffView(a.draft, JSON.parse(final.value)));
    } catch {
      preview.replaceChildren(status('warn', 'Not valid JSON yet.'));
    }
  });
  const send = async (resolution) => {
    const body = { resolution, job_hash: a.job_hash, comment: comment.value.trim(), method: 'console' };
    if (resolution === 'edited') {
      try {
        body.final = JSON.parse(final.value);
      } catch {
        out.replaceChildren(status('error', 'The final is not valid JSON.'));
        final.focus();
        return;
      }
    }
    try {
      await api(`/api/v1/approvals/${encodeURIComponent(a.approval_id)}/resolve`, { method: 'POST', body });
      main.replaceChildren();
      await renderOne(main, [a.approval_id]);
      main.prepend(status('ok', `Recorded: ${resolution}.`));
    } catch (e) {
      out.replaceChildren(status('error', `Not recorded: ${e.message}`));
    }
  };
  return h('section', { 'aria-labelledby': 'resolve-h' },
    h('h2', { id: 'resolve-h' }, 'Your answer'),
    h('div', { class: 'narrow' }, field('Comment (recorded with your answer)', comment)),
    editing,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'ok', onclick: () => send('approved') }, 'Approve'),
      h('button', { type: 'button', class: 'danger', onclick: () => send('rejected') }, 'Reject'),
      h('button', {
        type: 'button',
        class: 'secondary',
        onclick: (e) => {
          if (editing.hidden) {
            editing.hidden = false;
            // The diff below shows the draft beside the final.
            main.querySelector('#draft-block')?.setAttribute('hidden', '');
            final.dispatchEvent(new Event('input'));
            e.target.textContent = 'Save the edit';
            final.focus();
          } else {
            send('edited');
          }
        },
      }, 'Edit…')),
    out);
}
