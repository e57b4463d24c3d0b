// Starts a real `evident serve --demo` in a temporary directory, creates one key per
// role with the real `evident keys create`, and adds what the demo lacks (policies
// with approvals, artifacts its snapshots name, a day of activity, a legal hold)
// through the real HTTP API. Used by the browser tests and the screenshot command.

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');

/** The `evident` binary: $EVIDENT_BIN, else the debug build in the target dir. */
export function binary() {
  const bin = process.env.EVIDENT_BIN || join(process.env.CARGO_TARGET_DIR || join(repo, 'target'), 'debug', 'evident');
  if (!existsSync(bin)) throw new Error(`no evident binary at ${bin}: run cargo build -p evident-cli, or set EVIDENT_BIN`);
  return bin;
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

async function waitFor(output, pattern, child, ms = 60000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const m = output().match(pattern);
    if (m) return m;
    if (child.exitCode !== null) throw new Error(`evident serve exited: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`evident serve did not print ${pattern}: ${output()}`);
}

export const SCHEMA = `entity Agent;
entity Resource;
action "refund" appliesTo { principal: [Agent], resource: [Resource], context: {amount: Long} };
action "close_account" appliesTo { principal: [Agent], resource: [Resource], context: {} };
`;

export const POLICY = `@id("refund-small") @reason("refunds up to 100.00 are routine")
permit(principal, action == Action::"refund", resource) when { context.amount <= 10000 };

@id("refund-large") @reason("refunds above 100.00 need a person")
@require_approval
permit(principal, action == Action::"refund", resource) when { context.amount > 10000 };

@id("close-account") @reason("closing an account is always reviewed")
@require_approval
permit(principal, action == Action::"close_account", resource);
`;

export async function start({ quiet = true } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'evident-console-'));
  const port = await freePort();
  const bin = binary();
  const child = spawn(bin, ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--otlp-grpc-listen', 'off'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; if (!quiet) process.stderr.write(d); });
  const admin = (await waitFor(() => out, /admin API key[^:]*: (evk_[a-z0-9]+)/, child))[1];
  await waitFor(() => out, /listening on http/, child);
  const url = `http://127.0.0.1:${port}`;
  const keys = { admin };
  for (const [role, name] of [['auditor', 'auditor-ann'], ['approver', 'approver-maria'], ['privacy', 'privacy-omar'], ['ingest', 'agent-gateway']]) {
    keys[role] = execFileSync(bin, ['keys', 'create', '--role', role, '--name', name, '--data', 'evident-demo'], { cwd: dir }).toString().trim().split('\n').pop();
  }
  const server = {
    url, keys, dir, child,
    output: () => out,
    async call(key, path, { method = 'GET', body } = {}) {
      const response = await fetch(url + path, {
        method,
        headers: { Authorization: `Bearer ${keys[key] ?? key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** The clear identifier of the seeded customer (never stored in clear). */
export const SUBJECT = 'customer-C-1042';

const AGENTS = ['refund-agent-01', 'claims-triage-01', 'loan-underwriter-01', 'support-router-01', 'kyc-verifier-01'];

/** Adds what the pages show and the demo lacks, through the real API. */
export async function seed(server) {
  await server.call('admin', '/api/v1/policies', { method: 'POST', body: { id: 'refunds', text: POLICY, schema: SCHEMA } });
  // The registry entries the demo's snapshots name, so trace views link to them.
  for (const [kind, name, version, content] of [
    ['prompt', 'loan-underwriter-system', 'v29', { system: 'You are loan-underwriter, an AI agent acting for the operations team. Follow the lending policy.' }],
    ['workflow', 'loan-underwriter-flow', '2', { steps: ['agent_run', 'model_call', 'tool_call', 'decision'] }],
    ['retrieval_index', 'kb-lending', '2025-01-09', { documents: 1812, embedding: 'text-embedding-3-large' }],
  ]) {
    await server.call('admin', '/api/v1/artifacts', { method: 'POST', body: { kind, name, version, content } });
  }
  // A day of activity up to now, an hour at a time, so the dashboard has a shape.
  const now = Date.now();
  const events = [];
  for (let hour = 23; hour >= 0; hour--) {
    const busy = 4 + Math.round(6 * (1 + Math.sin((hour / 24) * 2 * Math.PI)));
    for (let i = 0; i < busy; i++) {
      const agent = AGENTS[(hour + i) % AGENTS.length];
      const at = new Date(now - hour * 3600e3 - i * 97e3).toISOString();
      const failed = (hour * 7 + i) % 13 === 0;
      events.push({
        event_id: `day-${hour}-${i}`,
        trace_id: `day-trace-${hour}-${Math.floor(i / 3)}`,
        timestamp: at,
        actor: { type: 'agent', id: agent },
        event_type: failed ? 'error' : ['model_call', 'tool_call', 'retrieval'][i % 3],
        context: { job_id: `job-day-${hour}-${Math.floor(i / 3)}` },
        metadata: { latency_ms: 200 + ((i * 137) % 900) },
        outcome: failed ? 'error' : 'success',
        ...(failed ? { error: { kind: 'timeout', message: 'the credit bureau did not answer in 30 s' } } : {}),
      });
    }
  }
  // One customer's refund, with her identifier as the subject (tokenized at ingest).
  events.push(
    {
      event_id: 'novak-1', trace_id: 'trace-novak', timestamp: new Date(now - 1800e3).toISOString(),
      actor: { type: 'agent', id: 'refund-agent-01' }, event_type: 'model_call',
      context: { job_id: 'job-novak', case_id: 'case-novak', subject: SUBJECT },
      snapshot: { model: 'gpt-4o-2024-08-06', prompt_version: 'loan-underwriter-system@v29' },
      input: { messages: [{ role: 'user', content: 'My kettle arrived damaged, please refund order 7001.' }] },
      output: { content: 'I will request a refund of 250.00 EUR for the damaged kettle.' },
      metadata: { latency_ms: 1840, input_tokens: 212, output_tokens: 41 }, outcome: 'success',
    },
    {
      event_id: 'novak-2', trace_id: 'trace-novak', parent_event_id: 'novak-1', timestamp: new Date(now - 1798e3).toISOString(),
      actor: { type: 'agent', id: 'refund-agent-01' }, event_type: 'tool_call', tool: { name: 'issue_refund', version: '1.4.0' },
      context: { job_id: 'job-novak', case_id: 'case-novak', subject: SUBJECT },
      input: { order: 'order-7001', amount_cents: 25000 }, metadata: { latency_ms: 420 }, outcome: 'success',
    });
  await server.call('admin', '/api/v1/events', { method: 'POST', body: events });
  // Decisions that need a person: each opens an approval request.
  const approvals = [];
  for (const [i, amount] of [[1, 25000], [2, 48000], [3, 120000]].map(([i, a]) => [i, a])) {
    const answer = await server.call('ingest', '/api/v1/decide', {
      method: 'POST',
      body: {
        agent: 'refund-agent-01', action: 'refund', resource: `order-${7000 + i}`, context: { amount },
        payload: { order: `order-${7000 + i}`, amount_cents: amount, currency: 'EUR', note: `refund for damaged delivery ${i}` },
        job_id: `job-refund-${i}`, trace_id: `trace-refund-${i}`,
      },
    });
    approvals.push(answer.approval_id);
  }
  await server.call('admin', '/api/v1/legal-holds', { method: 'POST', body: { case_id: 'case_0100001', reason: 'litigation: Novak v. Lender (docket 24-cv-118)' } });
  await indexed(server);
  return { approvals };
}

/** Waits until search (and the dashboard's counts) cover every entry of the log. */
export async function indexed(server, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const { tree_size: size } = await server.call('admin', '/api/v1/log');
    const page = await server.call('admin', '/api/v1/events/search', { method: 'POST', body: { limit: '1' } });
    // indexed_through: the highest seq every filter covers (null before the first).
    if (page.indexed_through !== null && page.indexed_through + 1 >= size) return;
    if (Date.now() > deadline) throw new Error(`search did not reach ${size} entries`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
