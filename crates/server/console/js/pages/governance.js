// Policies and artifacts: the active policy sets, which versions were live at a
// given time (from the publish and rollback history), and the artifact registry (a
// version, the one under a label, or the one live at a time).

import { api } from '../api.js';
import { h, clear, field, json, status } from '../dom.js';
import { time } from '../format.js';

const KINDS = ['prompt', 'tool_schema', 'model', 'retrieval_index', 'workflow', 'eval_dataset'];

export async function render(main, args) {
  main.append(h('h1', {}, 'Policies & artifacts'),
    h('p', { class: 'lead' }, 'The policy sets /decide evaluates now, what was live at any moment, and the registry of prompts, tools, models and indexes that events name in their snapshots.'));
  const [policies, audit] = await Promise.all([api('/api/v1/policies'), api('/api/v1/policy/audit', { query: { limit: '1' } })]);
  main.append(h('h2', {}, 'Active policy sets'),
    h('p', { class: 'muted' }, 'Snapshot ', h('span', { class: 'mono' }, policies.policy_snapshot ?? '—')));
  if (!policies.sets.length) {
    main.append(status('info', 'No policy set is published: /decide denies everything.'));
  } else {
    main.append(h('div', { class: 'table-wrap' }, h('table', { 'aria-label': 'Active policy sets' },
      h('thead', {}, h('tr', {}, ['set', 'version', 'state', 'rules', 'published', 'text'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, policies.sets.map((set) => h('tr', {},
        h('td', { class: 'mono' }, set.id),
        h('td', { class: 'num' }, String(set.version)),
        h('td', {}, h('span', { class: `pill ${set.state === 'active' ? 'ok' : 'bad'}` }, set.state), set.failure ? ` ${set.failure}` : ''),
        h('td', { class: 'wrap' }, h('ul', { class: 'rules' }, (set.rules || []).map((r) => h('li', {},
          h('span', { class: 'mono' }, r.rule_id ?? String(r)), ' ',
          h('span', { class: `pill ${r.effect === 'forbid' ? 'bad' : r.require_approval ? 'warn' : 'ok'}` }, r.effect === 'forbid' ? 'forbid' : r.require_approval ? 'needs approval' : 'permit'),
          r.reason ? h('span', { class: 'muted' }, ` ${r.reason}`) : '')))),
        h('td', { class: 'mono' }, time(set.published_at)),
        h('td', {}, h('details', {}, h('summary', {}, 'Cedar text'), h('pre', { class: 'json' }, set.text)))))))));
  }
  // What was live at a time: the last activation of each set at or before it.
  const at = h('input', { type: 'datetime-local', step: 1 });
  const live = h('div', { 'aria-live': 'polite' });
  main.append(h('h2', {}, 'Live at a time'), h('form', {
    class: 'filters',
    onsubmit: (e) => {
      e.preventDefault();
      const instant = Date.parse(`${at.value}Z`);
      if (Number.isNaN(instant)) {
        live.replaceChildren(status('error', 'Choose a time.'));
        return;
      }
      const sets = new Map();
      for (const a of audit.history) if (Date.parse(a.at) <= instant) sets.set(a.id, a);
      live.replaceChildren(sets.size ? h('ul', {}, [...sets.values()].map((a) => h('li', {}, h('span', { class: 'mono' }, a.id), ` version ${a.version} (${a.kind} at ${time(a.at)})`)))
        : status('info', 'No policy set was live then.'));
    },
  }, field('Time (UTC)', at), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Show'))), live);

  // The artifact registry.
  const kind = h('select', {}, KINDS.map((k) => h('option', { value: k }, k)));
  const name = h('input', { type: 'text', placeholder: 'name or name@version', required: true });
  const label = h('input', { type: 'text', placeholder: 'e.g. production' });
  const when = h('input', { type: 'datetime-local', step: 1 });
  const found = h('div', { 'aria-live': 'polite' });
  const show = async (k, n, query) => {
    clear(found);
    try {
      const a = await api(`/api/v1/artifacts/${encodeURIComponent(k)}/${encodeURIComponent(n)}`, { query });
      found.append(h('dl', { class: 'kv' },
        [['artifact', `${a.kind} ${a.name}@${a.version}`], ['published', time(a.published_at)], ['content hash', h('span', { class: 'mono' }, a.content_hash)],
          ['log entry', `seq ${a.seq ?? '—'} (${a.event_id ?? ''})`]].map(([k2, v]) => [h('dt', {}, k2), h('dd', {}, v)])),
      h('h3', {}, 'Content'), json(a.content), a.metadata ? [h('h3', {}, 'Metadata'), json(a.metadata)] : null);
    } catch (e) {
      found.append(status('error', e.status === 404 ? 'Nothing of that name was published (at that time).' : e.message));
    }
  };
  main.append(h('h2', { id: 'registry' }, 'Artifact registry'), h('form', {
    class: 'filters',
    onsubmit: (e) => {
      e.preventDefault();
      show(kind.value, name.value.trim(), { label: label.value.trim(), at: when.value ? `${when.value.length === 16 ? `${when.value}:00` : when.value}Z` : '' });
    },
  }, field('Kind', kind), field('Name', name), field('Label', label), field('Live at (UTC)', when), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Look up'))), found);
  if (args[0] === 'artifact' && args[1] && args[2]) {
    kind.value = args[1];
    name.value = args[2];
    await show(args[1], args[2], {});
    found.scrollIntoView();
  }
}
