// Small formatting helpers shared by the pages.

export function time(text) {
  if (!text) return '';
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) return String(text);
  return t.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export function count(n) {
  return new Intl.NumberFormat('en').format(n);
}

/** `<KIND_base32>` tokens and `subj_` tokens in a text. */
export function tokensIn(text) {
  const found = new Set();
  for (const m of String(text).matchAll(/<[A-Z][A-Z0-9_]*_[A-Za-z2-7]{16}>|subj_[a-z2-7]{32}/g)) found.add(m[0]);
  return [...found];
}

/** A short text for a record: what happened. */
export function summary(record) {
  const parts = [];
  if (record.tool && record.tool.name) parts.push(`tool ${record.tool.name}`);
  if (record.decision && record.decision.action) parts.push(`decision ${record.decision.action}`);
  if (record.approval && record.approval.resolution) parts.push(`approval ${record.approval.resolution}`);
  if (record.outcome) parts.push(record.outcome);
  if (record.error && record.error.kind) parts.push(`error ${record.error.kind}`);
  return parts.join(' · ');
}
