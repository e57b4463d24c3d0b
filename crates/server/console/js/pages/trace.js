// Trace view: the causal tree with a timeline (a bar per event, from its timestamp
// for its `metadata.latency_ms`), each event's detail, the registry entries its
// snapshot names, and "Verify": the event's inclusion proof checked against the
// signed checkpoint in this browser (`../verify.js`). One request for the trace (the
// server bounds it), one per event opened.

import { api } from '../api.js';
import { h, link, clear, json, status } from '../dom.js';
import { time, tokensIn } from '../format.js';
import { revealButton, subjectToken } from './reveal.js';
import { searchFor } from './search.js';
import { verifyPanel } from '../verify.js';
import { dropZone } from './evidence.js';

// The event's claimed time, ms since the epoch (0 if unreadable).
function millis(record) {
  const t = Date.parse(record.timestamp);
  return Number.isNaN(t) ? 0 : t;
}

/** Depth-first rows of the causal tree. */
function flatten(tree, depth = 0, out = []) {
  for (const node of tree) {
    out.push({ id: node.event_id, depth, orphan: Boolean(node.orphan) });
    flatten(node.children || [], depth + 1, out);
  }
  return out;
}

export async function render(main, args) {
  const traceId = args[0];
  if (!traceId) {
    main.append(h('h1', {}, 'Trace'), status('info', 'Open a trace from the search results.'));
    return;
  }
  const answer = await api(`/api/v1/traces/${encodeURIComponent(traceId)}`);
  const byId = new Map(answer.events.map((r) => [r.event_id, r]));
  const rows = flatten(answer.tree || []);
  const start = Math.min(...answer.events.map(millis));
  const end = Math.max(...answer.events.map((r) => millis(r) + (Number(r.metadata?.latency_ms) || 0)));
  const span = Math.max(1, end - start);
  const detail = h('section', { class: 'detail', 'aria-label': 'Event detail' }, h('p', { class: 'muted' }, 'Choose an event in the tree.'));
  const tree = h('div', { class: 'tree', role: 'list', 'aria-label': 'Causal tree with timeline' });
  let selected = null;
  const open = (id, row) => {
    if (selected) selected.classList.remove('selected');
    selected = row;
    row.classList.add('selected');
    showEvent(detail, byId.get(id), answer.artifacts?.[id]);
  };
  for (const row of rows) {
    const record = byId.get(row.id);
    if (!record) continue;
    const left = ((millis(record) - start) / span) * 100;
    const width = ((Number(record.metadata?.latency_ms) || 0) / span) * 100;
    const kind = record.event_type === 'error' || record.outcome === 'error' ? 'bar error'
      : ['decision', 'policy_decision', 'approval_request', 'approval_resolution', 'human_review'].includes(record.event_type) ? 'bar decision' : 'bar';
    const bar = h('span', { class: kind });
    bar.style.left = `${Math.min(99.5, left)}%`;
    bar.style.width = `${Math.min(100 - left, width)}%`;
    const el = h('div', { class: 'tree-row', role: 'listitem' });
    const button = h('button', {
      type: 'button',
      title: `${record.event_type} by ${record.actor?.id ?? '?'} at ${record.timestamp}`,
      onclick: () => open(row.id, el),
    },
    h('span', { class: 'kind' }, record.event_type),
    h('span', { class: 'by' }, record.actor?.id ?? ''),
    row.orphan ? h('span', { class: 'pill warn' }, 'parent missing') : null);
    // Deep chains stay readable: indentation stops growing after a few levels.
    button.style.paddingLeft = `${10 + Math.min(row.depth, 6) * 16}px`;
    el.append(button, h('span', { class: 'bar-track', 'aria-hidden': 'true' }, bar));
    tree.append(el);
  }
  main.append(
    h('h1', {}, 'Trace ', h('span', { class: 'mono' }, traceId)),
    h('p', { class: 'lead' }, `${answer.events.length} events from ${time(new Date(start).toISOString())}, over ${(span / 1000).toFixed(2)} s.`,
      answer.truncated ? ' The trace is longer than one answer holds: the first events are shown.' : ''),
    h('div', { class: 'split' }, tree, detail),
    h('h2', {}, 'Check an evidence bundle'), dropZone());
  const first = tree.querySelector('.tree-row');
  if (first) first.querySelector('button').click();
}

function textWithReveal(value) {
  const out = h('div', {}, json(value));
  const tokens = tokensIn(JSON.stringify(value)).filter((t) => t.startsWith('<'));
  if (tokens.length) {
    out.append(h('div', { class: 'actions' }, h('span', { class: 'muted' }, 'Personal data as tokens:'),
      tokens.slice(0, 6).map((t) => h('span', {}, h('span', { class: 'token' }, t), ' ', revealButton(t)))));
  }
  return out;
}

const SNAPSHOT_KINDS = { prompt_version: 'prompt', tool_versions: 'tool_schema', model: 'model', retrieval_index_version: 'retrieval_index', workflow_version: 'workflow' };

function snapshotList(snapshot, links) {
  const items = [];
  for (const [member, value] of Object.entries(snapshot || {})) {
    if (value && typeof value === 'object') {
      for (const [tool, v] of Object.entries(value)) items.push([`${member}.${tool}`, `/snapshot/${member}/${tool.replace(/~/g, '~0').replace(/\//g, '~1')}`, v]);
    } else {
      items.push([member, `/snapshot/${member}`, value]);
    }
  }
  return h('dl', { class: 'kv' }, items.map(([name, pointer, value]) => {
    const found = links?.[pointer];
    let shown = h('span', { class: 'mono' }, typeof value === 'string' ? value : JSON.stringify(value));
    if (found && !found.unknown) {
      shown = h('span', {}, link(['governance', 'artifact', found.kind, `${found.name}@${found.version}`], `${found.name}@${found.version}`),
        ' ', h('span', { class: 'pill ok' }, `registry seq ${found.seq}`));
    } else if (found?.unknown) {
      shown = h('span', {}, shown, ' ', h('span', { class: 'pill warn' }, 'not in the registry'));
    } else if (SNAPSHOT_KINDS[name.split('.')[0]] === undefined) {
      shown = h('span', { class: 'mono' }, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return [h('dt', {}, name), h('dd', {}, shown)];
  }));
}

function showEvent(panel, record, links) {
  clear(panel);
  const rows = [
    ['event', h('span', { class: 'mono' }, record.event_id)],
    ['seq', h('span', { class: 'mono' }, String(record.seq))],
    ['type', record.event_type],
    ['actor', h('span', {}, h('a', { href: '#/search', onclick: (e) => { e.preventDefault(); searchFor({ agent: record.actor?.id }); } }, record.actor?.id ?? ''), ` (${record.actor?.type ?? '?'})`)],
    ['timestamp', time(record.timestamp)],
    ['received', time(record.received_at)],
    ['submitted by key', record.principal],
  ];
  if (record.outcome) rows.push(['outcome', h('span', { class: `pill ${record.outcome === 'error' ? 'bad' : record.outcome === 'success' ? 'ok' : 'warn'}` }, record.outcome)]);
  if (record.context?.job_id) rows.push(['job', h('a', { href: '#/search', onclick: (e) => { e.preventDefault(); searchFor({ job_id: record.context.job_id }); } }, record.context.job_id)]);
  if (record.context?.case_id) rows.push(['case', record.context.case_id]);
  if (record.context?.subject) rows.push(['subject', subjectToken(record.context.subject, () => searchFor({ subject: record.context.subject }))]);
  if (record.parent_event_id) rows.push(['caused by', h('span', { class: 'mono' }, record.parent_event_id)]);
  if (record.tool) rows.push(['tool', `${record.tool.name ?? ''}${record.tool.version ? ` ${record.tool.version}` : ''}`]);
  if (record.approval?.approval_id) rows.push(['approval', link(['approval', record.approval.approval_id], record.approval.approval_id)]);
  panel.append(h('h2', {}, `${record.event_type} · ${record.actor?.id ?? ''}`),
    h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    verifyPanel(record.event_id));
  if (record.snapshot) panel.append(h('h3', {}, 'Snapshot (what the AI was)'), snapshotList(record.snapshot, links));
  for (const name of ['input', 'output', 'decision', 'approval', 'error', 'output_safety', 'metadata', 'attributes']) {
    if (record[name] !== undefined && record[name] !== null) panel.append(h('h3', {}, name), textWithReveal(record[name]));
  }
}
