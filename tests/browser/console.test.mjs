// End-to-end tests of the web console in headless Chromium against a real
// `evident serve --demo` (with what `harness.mjs` adds through the API).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { start, seed, indexed, binary, SUBJECT } from './harness.mjs';
import { launch, signIn } from './browser.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let server;
let browser;
let seeded;

before(async () => {
  server = await start();
  seeded = await seed(server);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Waits until the console has rendered `route` with everything it loads. */
async function ready(page, route) {
  await page.locator(`main[data-ready="${route.split('/')[0]}"]`).waitFor({ state: 'attached' });
}

/** Resolves after the search page shows its next answer. */
async function nextResults(page, action) {
  const before = Number((await page.locator('#results').getAttribute('data-loads')) || 0);
  await action();
  await page.waitForFunction((n) => Number(document.getElementById('results')?.dataset.loads || 0) > n, before);
}

async function search(page, fields) {
  if (!page.url().endsWith('#/search')) {
    await page.goto(`${server.url}/#/search`);
    await ready(page, 'search');
  }
  for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
  await nextResults(page, () => page.getByRole('button', { name: 'Search', exact: true }).click());
}

const resultSeqs = (page) => page.locator('table[aria-label="Events found"] tbody tr td:first-child').allTextContents();

test('sign in keeps the key in the tab only, never in a URL, and shows the role', async () => {
  const { context, page, seen } = await signIn(browser, server, server.keys.auditor);
  assert.equal(await page.locator('#who .role').textContent(), 'auditor');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('evident.apiKey')), server.keys.auditor);
  assert.equal(await page.evaluate(() => Object.values(localStorage).join()).then((v) => v.includes(server.keys.auditor)), false);
  // Pages follow the role: an auditor reads the access log, not legal holds.
  await assert.doesNotReject(page.getByRole('link', { name: 'Access log' }).waitFor());
  assert.equal(await page.getByRole('link', { name: 'Legal holds' }).count(), 0);
  await search(page, {});
  for (const url of seen.requests) assert.ok(!url.includes(server.keys.auditor), url);
  await page.getByRole('button', { name: 'Sign out' }).click();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('evident.apiKey')), null);
  await page.getByLabel('API key').fill('evk_not_a_key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('That key is not known to this server.').waitFor();
  await context.close();
});

test('search by subject (a clear id, sent in a body) and by full text', async () => {
  const { context, page, seen } = await signIn(browser, server, server.keys.auditor);
  await search(page, { Subject: SUBJECT });
  const bySubject = await resultSeqs(page);
  assert.equal(bySubject.length, 2);
  const tokens = await page.locator('table[aria-label="Events found"] .token').allTextContents();
  assert.equal(new Set(tokens).size, 1);
  assert.match(tokens[0], /^subj_[a-z2-7]{32}$/);
  assert.ok(!(await page.content()).includes(SUBJECT) || (await page.getByLabel('Subject', { exact: true }).inputValue()) === SUBJECT);
  for (const url of seen.requests) assert.ok(!url.includes(SUBJECT), `clear subject in ${url}`);
  await search(page, { Subject: '', 'Full text': '"damaged kettle"' });
  const byText = await resultSeqs(page);
  assert.equal(byText.length, 1);
  await context.close();
});

test('paging goes through more than one page without losing or repeating a row', async () => {
  const { context, page } = await signIn(browser, server, server.keys.auditor);
  await search(page, {});
  const first = (await resultSeqs(page)).map(Number);
  assert.equal(first.length, 50);
  await nextResults(page, () => page.getByRole('button', { name: 'Next →' }).click());
  await page.getByText('Page 2 ·').waitFor();
  const second = (await resultSeqs(page)).map(Number);
  assert.equal(second.length, 50);
  assert.deepEqual([...first, ...second], Array.from({ length: 100 }, (_, i) => i));
  await nextResults(page, () => page.getByRole('button', { name: 'Next →' }).click());
  await page.getByText('Page 3 ·').waitFor();
  assert.equal((await resultSeqs(page)).map(Number)[0], 100);
  await nextResults(page, () => page.getByRole('button', { name: '← Previous' }).click());
  await page.getByText('Page 2 ·').waitFor();
  assert.deepEqual((await resultSeqs(page)).map(Number), second);
  await context.close();
});

test('a trace opens from the results with its tree, timeline and detail', async () => {
  const { context, page } = await signIn(browser, server, server.keys.auditor);
  await search(page, { Subject: SUBJECT });
  await page.getByRole('link', { name: 'trace-novak' }).first().click();
  await page.getByRole('heading', { name: /Trace trace-novak/ }).waitFor();
  assert.equal(await page.locator('.tree-row').count(), 2);
  assert.equal(await page.locator('.tree-row .bar').count(), 2);
  await page.locator('.tree-row button').nth(1).click();
  await page.getByRole('heading', { name: 'tool_call · refund-agent-01' }).waitFor();
  await page.locator('.tree-row button').first().click();
  // The snapshot's prompt links to the registry entry the seed published.
  await page.getByRole('link', { name: 'loan-underwriter-system@v29' }).click();
  await page.getByText('content hash').waitFor();
  await context.close();
});

test('reveal: the privacy role sees the value (logged); an auditor is refused', async () => {
  const privacy = await signIn(browser, server, server.keys.privacy);
  await search(privacy.page, { Subject: SUBJECT });
  await privacy.page.getByRole('button', { name: /^Reveal subj_/ }).first().click();
  await privacy.page.getByLabel('Why do you need to see it? (logged)').fill('DSAR 2026-118: confirm identity');
  await privacy.page.getByRole('button', { name: 'Reveal', exact: true }).click();
  await privacy.page.locator('.revealed', { hasText: SUBJECT }).waitFor();
  assert.deepEqual(privacy.seen.dialogs, []);
  await privacy.context.close();
  const logged = await server.call('admin', '/api/v1/events/search', { method: 'POST', body: { type: 'vault_access' } });
  assert.ok(logged.events.some((e) => e.principal === 'privacy-omar'), 'the reveal is a vault_access event');

  const auditor = await signIn(browser, server, server.keys.auditor);
  await search(auditor.page, { Subject: SUBJECT });
  await auditor.page.getByRole('button', { name: /^Reveal subj_/ }).first().click();
  await auditor.page.getByLabel('Why do you need to see it? (logged)').fill('curious');
  await auditor.page.getByRole('button', { name: 'Reveal', exact: true }).click();
  await auditor.page.getByText('Refused: only the privacy role may reveal').first().waitFor();
  assert.equal(await auditor.page.locator('.revealed').count(), 0);
  await auditor.context.close();
});

test('an approver approves one request and edits another, seeing the diff', async () => {
  const { context, page } = await signIn(browser, server, server.keys.approver);
  await page.goto(`${server.url}/#/approvals`);
  await page.getByRole('link', { name: seeded.approvals[0] }).click();
  await page.getByText('refund-large').waitFor();
  await page.getByText('refunds above 100.00 need a person').waitFor();
  await page.getByLabel('Comment (recorded with your answer)').fill('receipt checked');
  await page.getByRole('button', { name: 'Approve' }).click();
  await page.getByText('Recorded: approved.').waitFor();
  const approved = await server.call('admin', `/api/v1/approvals/${seeded.approvals[0]}`);
  assert.equal(approved.state, 'approved');
  assert.equal(approved.method, 'console');

  await page.goto(`${server.url}/#/approval/${seeded.approvals[1]}`);
  await page.getByRole('button', { name: 'Edit…' }).click();
  const final = page.getByLabel('Final (JSON): what may be done instead');
  await final.fill((await final.inputValue()).replace('48000', '30000'));
  await page.locator('.diff .del', { hasText: '48000' }).first().waitFor();
  await page.locator('.diff .add', { hasText: '30000' }).first().waitFor();
  await page.getByLabel('Comment (recorded with your answer)').fill('capped at policy limit');
  await page.getByRole('button', { name: 'Save the edit' }).click();
  await page.getByText('Recorded: edited.').waitFor();
  // The page now shows the stored draft and final side by side.
  await page.locator('.diff .add', { hasText: '30000' }).first().waitFor();
  const edited = await server.call('admin', `/api/v1/approvals/${seeded.approvals[1]}`);
  assert.equal(edited.state, 'edited');
  assert.equal(edited.final.amount_cents, 30000);
  await context.close();
});

async function openTraceEvent(page, name) {
  await page.goto(`${server.url}/#/trace/trace-novak`);
  await page.locator('.detail h2').waitFor();
  await page.locator('.tree-row button', { hasText: name }).click();
}

test('verify checks the inclusion proof against the signed checkpoint in the browser', async () => {
  const { context, page, seen } = await signIn(browser, server, server.keys.auditor);
  await openTraceEvent(page, 'tool_call');
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await page.getByText('Verified by this browser: the event is in the signed log.').waitFor();
  await page.getByText(/served by this server \(not pinned/).waitFor();
  assert.equal(await page.locator('.verify .pill.bad').count(), 0);
  // The check ran here: the verifier module and the entry bundle were fetched.
  assert.ok(seen.requests.some((u) => u.endsWith('/console/js/verifier/evident-verify.js')));
  assert.ok(seen.requests.some((u) => u.includes('/tile/entries/')));

  // Pinned: the page says so, and a pin of another key fails the signature check.
  const log = await server.call('auditor', '/api/v1/log');
  await page.evaluate((k) => localStorage.setItem('evident.pinnedVerifierKey', k), log.verifier_key);
  await openTraceEvent(page, 'tool_call');
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await page.getByText('Verified by this browser: the event is in the signed log.').waitFor();
  await page.getByText('pinned in this browser').waitFor();
  const other = log.verifier_key.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
  await page.evaluate((k) => localStorage.setItem('evident.pinnedVerifierKey', k), other);
  await openTraceEvent(page, 'tool_call');
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await page.getByText(/Verification FAILED/).waitFor();
  await context.close();
});

test('verify fails when the proof the server sends is tampered with', async () => {
  const { context, page } = await signIn(browser, server, server.keys.auditor);
  await page.route(/\/api\/v1\/events\/[^/?]+\?proof=true$/, async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const first = Buffer.from(body.proof.hashes[0], 'base64');
    first[0] ^= 1;
    body.proof.hashes[0] = first.toString('base64');
    await route.fulfill({ response, json: body });
  });
  await openTraceEvent(page, 'model_call');
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await page.getByText('Verification FAILED: this record is not proven to be in the signed log.').waitFor();
  await page.getByText(/inclusion proof does not lead to the root/).waitFor();
  await context.close();
});

test('an evidence bundle dropped on the page is verified there; a changed one is not', async () => {
  const bundle = join(server.dir, 'trace-novak.tar');
  execFileSync(binary(), ['export', '--server', server.url, '--api-key', server.keys.auditor, '--trace', 'trace-novak', '-o', bundle], { cwd: server.dir });
  const { context, page } = await signIn(browser, server, server.keys.auditor);
  await page.goto(`${server.url}/#/trace/trace-novak`);
  await page.getByLabel('Evidence bundle file').setInputFiles(bundle);
  await page.getByText(/Bundle verified by this browser: trace trace-novak, \d+ entries/).waitFor();
  // One byte of one entry changed: the page names the member.
  const bytes = readFileSync(bundle);
  const text = bytes.toString('latin1');
  const at = text.indexOf('"event_id":"novak-2"');
  assert.ok(at > 0);
  bytes[at + 13] = 'N'.charCodeAt(0);
  const changed = join(server.dir, 'changed.tar');
  writeFileSync(changed, bytes);
  await page.getByLabel('Evidence bundle file').setInputFiles(changed);
  await page.getByText(/Bundle verification FAILED/).waitFor();
  await page.locator('.drop + div li', { hasText: 'evidence/entries/' }).first().waitFor();
  await context.close();
});

test('a bundle exported from the evidence page is verified in the page', async () => {
  const { context, page, seen } = await signIn(browser, server, server.keys.auditor);
  await page.goto(`${server.url}/#/evidence`);
  await ready(page, 'evidence');
  // By subject: the clear id goes in the POST body, never in a URL.
  await page.getByLabel('Scope').selectOption('subject');
  await page.getByLabel('Id', { exact: true }).fill(SUBJECT);
  await page.getByRole('button', { name: 'Export', exact: true }).click();
  await page.getByText('Bundle ready.').waitFor();
  await page.getByRole('button', { name: 'Check the bundle just exported' }).click();
  await page.getByText(/Bundle verified by this browser: subject subj_[a-z2-7]{32}, \d+ entries/).waitFor();
  for (const url of seen.requests) assert.ok(!url.includes(SUBJECT), url);
  // The saved file is the bundle that was checked.
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: /^Save evidence-subject-/ }).click();
  const saved = readFileSync(await (await download).path());
  assert.equal(saved.subarray(257, 262).toString('latin1'), 'ustar');
  await context.close();
});

test('the console works from the keyboard alone', async () => {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  // The key field has focus on arrival; Enter signs in.
  await page.keyboard.type(server.keys.auditor);
  await page.keyboard.press('Enter');
  await ready(page, 'dashboard');
  await page.getByRole('link', { name: 'Search' }).focus();
  await page.keyboard.press('Enter');
  await ready(page, 'search');
  await page.getByLabel('Full text').focus();
  await page.keyboard.type('"damaged kettle"');
  await nextResults(page, () => page.keyboard.press('Enter'));
  await page.getByRole('link', { name: 'trace-novak' }).focus();
  await page.keyboard.press('Enter');
  await ready(page, 'trace');
  // Tree rows are buttons: Tab reaches them, Enter opens the event.
  await page.locator('.tree-row button').nth(1).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'tool_call · refund-agent-01' }).waitFor();
  await page.getByRole('button', { name: 'Verify in this browser' }).focus();
  await page.keyboard.press('Enter');
  await page.getByText('Verified by this browser: the event is in the signed log.').waitFor();
  await context.close();
});

test('hostile content is shown as text and never runs', async () => {
  const payloads = ['<img src=x onerror="window.__pwned=1;alert(1)">', '<script>window.__pwned=2;alert(2)</script>', 'javascript:window.__pwned=3'];
  const hostile = payloads.join(' ');
  await server.call('ingest', '/api/v1/events', {
    method: 'POST',
    body: [{
      event_id: 'hostile-1', trace_id: 'javascript:window.__pwned=4', timestamp: new Date().toISOString(),
      actor: { type: 'agent', id: '<img src=x onerror=window.__pwned=5>', version: hostile },
      event_type: 'tool_call', tool: { name: '<script>window.__pwned=6</script>', version: 'javascript:alert(7)' },
      context: { job_id: '<img src=x onerror=alert(8)>', case_id: 'javascript:alert(9)' },
      snapshot: { model: hostile, prompt_version: '<img src=x onerror=alert(10)>@v1' },
      input: { prompt: hostile, link: 'javascript:window.__pwned=11' }, output: { html: hostile },
      decision: { action: '<b>x</b>', reason: hostile }, error: { kind: '<svg onload=alert(12)>', message: hostile },
      metadata: { latency_ms: 5, note: hostile }, outcome: 'error',
    }],
  });
  const decided = await server.call('ingest', '/api/v1/decide', {
    method: 'POST',
    body: { agent: 'refund-agent-01', action: 'close_account', resource: 'acct-1', payload: { note: hostile }, job_id: '<img src=x onerror=alert(13)>' },
  });
  await indexed(server);
  const { context, page, seen } = await signIn(browser, server, server.keys.admin);
  await search(page, { 'Full text': 'pwned' });
  await page.getByText('<img src=x onerror=window.__pwned=5>').first().waitFor();
  await page.goto(`${server.url}/#/trace/${encodeURIComponent('javascript:window.__pwned=4')}`);
  await page.locator('.detail h2').waitFor();
  await page.locator('.detail').getByText('<script>window.__pwned=6</script>').waitFor();
  await page.goto(`${server.url}/#/approval/${decided.approval_id}`);
  await page.getByText('<img src=x onerror=alert(13)>').waitFor();
  await page.goto(`${server.url}/#/approvals`);
  await page.locator('table').waitFor();
  await page.goto(`${server.url}/#/dashboard`);
  await page.locator('.card').first().waitFor();
  for (const href of await page.$$eval('a', (links) => links.map((a) => a.getAttribute('href')))) {
    assert.ok(!/^\s*javascript:/i.test(href ?? ''), href);
  }
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(seen.dialogs, []);
  assert.equal(await page.locator('img[src="x"], svg[onload]').count(), 0);
  await context.close();
});

test('the console is served with a strict Content-Security-Policy', async () => {
  const response = await fetch(`${server.url}/`);
  const csp = response.headers.get('content-security-policy');
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.match(csp, /default-src 'none'/);
  assert.ok(!(await response.text()).match(/<script(?![^>]*\bsrc=)/), 'no inline script');
});

const MAIN_PAGES = ['dashboard', 'search', 'approvals', 'governance', 'evidence', 'holds', 'access', 'log'];

test('axe-core finds no serious or critical violation on the main pages', async () => {
  // axe is injected from outside the page (the console's policy refuses inline scripts).
  const { context, page } = await signIn(browser, server, server.keys.admin, { bypassCSP: true });
  const found = [];
  const check = async (name) => {
    await page.addScriptTag({ content: AXE });
    const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
    for (const v of result.violations.filter((x) => ['serious', 'critical'].includes(x.impact))) {
      found.push(`${name}: ${v.id} (${v.impact}) ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    }
  };
  for (const name of MAIN_PAGES) {
    await page.goto(`${server.url}/#/${name}`);
    await ready(page, name);
    await check(name);
  }
  await page.goto(`${server.url}/#/trace/trace-novak`);
  await page.locator('.detail h2').waitFor();
  await check('trace');
  await page.goto(`${server.url}/#/approval/${seeded.approvals[2]}`);
  await page.getByRole('heading', { name: 'Your answer' }).waitFor();
  await check('approval');
  assert.deepEqual(found, []);
  await context.close();
});

test('every page loads a bounded page of records, whatever the log holds', async () => {
  const { context, page } = await signIn(browser, server, server.keys.admin);
  const PAGE = 50;
  for (const route of [...MAIN_PAGES, 'trace/trace-novak']) {
    const answers = [];
    const reading = [];
    const listener = (response) => {
      const url = new URL(response.url());
      if (!url.pathname.startsWith('/api/') && !url.pathname.startsWith('/tile/')) return;
      const answer = { path: url.pathname, limit: url.searchParams.get('limit'), records: 0 };
      answers.push(answer);
      reading.push(response.json().then((body) => {
        for (const name of ['events', 'approvals', 'records', 'holds', 'decisions']) {
          if (Array.isArray(body[name])) answer.records += body[name].length;
        }
      }, () => {}));
    };
    page.on('response', listener);
    await page.goto(`${server.url}/#/${route}`);
    await ready(page, route);
    page.off('response', listener);
    await Promise.all(reading);
    assert.ok(answers.length <= 4, `${route} made ${answers.length} requests: ${JSON.stringify(answers)}`);
    for (const a of answers) {
      assert.ok(a.records <= PAGE, `${route}: ${a.path} answered ${a.records} records`);
      if (a.limit !== null) assert.ok(Number(a.limit) <= PAGE, `${route}: ${a.path} asked for ${a.limit}`);
    }
    // A policy audit answers its whole history; the page asks for one decision only.
    if (route === 'governance') assert.ok(answers.some((a) => a.path === '/api/v1/policy/audit' && a.limit === '1'));
  }
  // The search page posts its limit in the body.
  const posted = [];
  page.on('request', (r) => { if (r.url().endsWith('/api/v1/events/search')) posted.push(JSON.parse(r.postData())); });
  await search(page, {});
  assert.equal(posted.at(-1).limit, String(PAGE));
  await context.close();
});

test('API keys never reach the server log', async () => {
  const output = server.output();
  for (const role of ['auditor', 'approver', 'privacy', 'ingest']) assert.ok(!output.includes(server.keys[role]), role);
});
