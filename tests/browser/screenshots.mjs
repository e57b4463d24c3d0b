// Regenerates the console's screenshots in docs/console/ (`npm run screenshots`):
// a real `evident serve --demo` with what `harness.mjs` adds, in headless Chromium at
// 1366x768.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { start, seed, repo, SUBJECT } from './harness.mjs';
import { launch, signIn } from './browser.mjs';

const out = join(repo, 'docs', 'console');
mkdirSync(out, { recursive: true });
const server = await start();
const browser = await launch();
try {
  const seeded = await seed(server);
  const shot = async (page, name) => {
    await page.locator('main[data-ready]').waitFor({ state: 'attached' });
    await page.screenshot({ path: join(out, `${name}.png`) });
    console.log(`docs/console/${name}.png`);
  };
  const admin = await signIn(browser, server, server.keys.admin);
  let page = admin.page;
  await page.goto(`${server.url}/#/dashboard`);
  await page.locator('.card svg').first().waitFor();
  await shot(page, 'dashboard');

  await page.goto(`${server.url}/#/search`);
  await page.getByLabel('Subject', { exact: true }).fill(SUBJECT);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByLabel('Subject', { exact: true }).fill('');
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.locator('#results table').waitFor();
  await shot(page, 'search');

  await page.goto(`${server.url}/#/trace/0eb772cb4da6c6ab5fae5625f0a70643`);
  await page.locator('.detail h2').waitFor();
  await page.locator('.tree-row button').nth(1).click();
  await page.getByRole('button', { name: 'Verify in this browser' }).click();
  await page.getByText('Verified by this browser').waitFor();
  await shot(page, 'trace-verified');

  await page.goto(`${server.url}/#/governance`);
  await page.locator('table').waitFor();
  await shot(page, 'policies');

  await page.goto(`${server.url}/#/log`);
  await page.locator('pre.checkpoint').waitFor();
  await shot(page, 'log-status');
  await admin.context.close();

  const approver = await signIn(browser, server, server.keys.approver);
  page = approver.page;
  await page.goto(`${server.url}/#/approvals`);
  await page.locator('table').waitFor();
  await shot(page, 'approvals');
  await page.goto(`${server.url}/#/approval/${seeded.approvals[1]}`);
  await page.getByRole('button', { name: 'Edit…' }).click();
  const final = page.getByLabel('Final (JSON): what may be done instead');
  await final.fill((await final.inputValue()).replace('48000', '30000'));
  await page.getByLabel('Comment (recorded with your answer)').fill('capped at the policy limit');
  await page.evaluate(() => document.activeElement?.blur());
  await page.locator('.diff').first().scrollIntoViewIfNeeded();
  await shot(page, 'approval-edit');
  await approver.context.close();
} finally {
  await browser.close();
  await server.stop();
}
