// Evidence: export a bundle (trace, job, case or subject) and check one dropped here,
// in this browser, with the standalone verifier.

import { api } from '../api.js';
import { h, field, status } from '../dom.js';
import { verifier, verifierKey } from '../verify.js';

export async function render(main) {
  main.append(h('h1', {}, 'Evidence'),
    h('p', { class: 'lead' }, 'A bundle is one file with the selected entries, their payloads with salts, the signed checkpoint, a proof per entry and the verifier key: anyone can check it without this server.'));
  const scope = h('select', {}, [['trace_id', 'Trace'], ['job_id', 'Job'], ['case_id', 'Case'], ['subject', 'Subject']].map(([v, t]) => h('option', { value: v }, t)));
  const id = h('input', { type: 'text', required: true, autocomplete: 'off' });
  const out = h('div', { 'aria-live': 'polite' });
  main.append(h('h2', {}, 'Export a bundle'), h('form', {
    class: 'filters',
    onsubmit: async (e) => {
      e.preventDefault();
      out.replaceChildren(status('info', 'Exporting…'));
      try {
        // POST: a clear subject id stays out of the URL.
        const response = await api('/api/v1/evidence', { method: 'POST', body: { [scope.value]: id.value.trim() }, raw: true });
        const blob = await response.blob();
        const name = `evidence-${scope.value}-${id.value.trim().replace(/[^A-Za-z0-9._-]/g, '_')}.tar`;
        const url = URL.createObjectURL(blob);
        const a = h('a', { href: '#/evidence', download: name }, `Save ${name} (${blob.size} bytes)`);
        a.setAttribute('href', url);
        out.replaceChildren(status('ok', 'Bundle ready. ', a));
        lastBundle = new Uint8Array(await blob.arrayBuffer());
      } catch (err) {
        out.replaceChildren(status('error', `Not exported: ${err.message}`));
      }
    },
  }, field('Scope', scope), field('Id', id), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Export'))), out);
  main.append(h('h2', {}, 'Check a bundle'), dropZone());
}

let lastBundle = null;

/** A drop zone (and file picker) that verifies a bundle in this browser. */
export function dropZone() {
  const result = h('div', { 'aria-live': 'polite' });
  const picker = h('input', { type: 'file', accept: '.tar,.zip,application/x-tar', 'aria-label': 'Evidence bundle file' });
  const check = async (bytes) => {
    result.replaceChildren(status('info', 'Checking in this browser…'));
    try {
      const v = await verifier();
      const { key, source } = await verifierKey();
      const report = await v.verifyBundle(bytes, { key });
      const what = report.selection ? `${report.selection.kind ?? ''} ${report.selection.id ?? report.selection.value ?? ''}`.trim() : 'bundle';
      result.replaceChildren(
        status(report.ok ? 'ok' : 'error', report.ok
          ? `Bundle verified by this browser: ${what}, ${report.entries} entries, ${report.blobs} payloads, against the checkpoint of ${report.checkpoint?.size} entries (key ${source}).`
          : `Bundle verification FAILED: ${report.failures.length} problem(s).`),
        report.failures.length ? h('ul', {}, report.failures.slice(0, 20).map((f) => h('li', {}, h('span', { class: 'mono' }, f.member ?? ''), f.seq !== null && f.seq !== undefined ? ` (seq ${f.seq})` : '', `: ${f.why}`))) : null,
        report.notes.filter(Boolean).length ? h('ul', { class: 'muted' }, report.notes.filter(Boolean).map((n) => h('li', {}, String(n)))) : null);
    } catch (e) {
      result.replaceChildren(status('error', `Bundle verification FAILED: ${e.message}`));
    }
  };
  picker.addEventListener('change', async () => {
    if (picker.files[0]) await check(new Uint8Array(await picker.files[0].arrayBuffer()));
  });
  const zone = h('div', { class: 'drop', role: 'region', 'aria-label': 'Drop a bundle here' },
    h('p', {}, 'Drop an evidence bundle here, or choose it: ', picker),
    h('button', { type: 'button', class: 'secondary', onclick: () => (lastBundle ? check(lastBundle) : result.replaceChildren(status('warn', 'Export a bundle first.'))) }, 'Check the bundle just exported'));
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', async (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    const file = e.dataTransfer.files[0];
    if (file) await check(new Uint8Array(await file.arrayBuffer()));
  });
  return h('div', {}, zone, result);
}
