// The console's shell: sign-in, the navigation the key's role allows, and a router
// over `#/page/arg...`. Each page is a module exporting `render(main, args)`.

import { api, session, may, ApiError, READERS } from './api.js';
import { h, clear, field, status } from './dom.js';
import * as dashboard from './pages/dashboard.js';
import * as search from './pages/search.js';
import * as trace from './pages/trace.js';
import * as approvals from './pages/approvals.js';
import * as governance from './pages/governance.js';
import * as holds from './pages/holds.js';
import * as evidence from './pages/evidence.js';
import * as log from './pages/log.js';

const ADMIN_PRIVACY = ['admin', 'privacy'];
const ADMIN_AUDITOR = ['admin', 'auditor'];

// Pages in the navigation; `roles` as the API grants them (CONTRACT section 4).
const PAGES = [
  { id: 'dashboard', title: 'Dashboard', roles: READERS, page: dashboard },
  { id: 'search', title: 'Search', roles: READERS, page: search },
  { id: 'approvals', title: 'Approvals', roles: READERS, page: approvals },
  { id: 'governance', title: 'Policies & artifacts', roles: READERS, page: governance },
  { id: 'evidence', title: 'Evidence', roles: READERS, page: evidence },
  { id: 'holds', title: 'Legal holds', roles: ADMIN_PRIVACY, page: holds, render: holds.renderHolds },
  { id: 'access', title: 'Access log', roles: ADMIN_AUDITOR, page: holds, render: holds.renderAccess },
  { id: 'log', title: 'Log status', roles: READERS, page: log },
];
// Routes reached by links, not listed in the navigation.
const HIDDEN = [
  { id: 'trace', roles: READERS, page: trace, nav: 'search' },
  { id: 'approval', roles: READERS, page: approvals, render: approvals.renderOne, nav: 'approvals' },
];

function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { id: parts[0] || 'dashboard', args: parts.slice(1) };
}

function renderNav(current) {
  const nav = clear(document.getElementById('nav'));
  const list = h('ul', {});
  for (const p of PAGES.filter((p) => may(p.roles))) {
    list.append(h('li', {}, h('a', { href: `#/${p.id}`, 'aria-current': p.id === current ? 'page' : null }, p.title)));
  }
  nav.append(h('h2', {}, 'Audit'), list);
  // Room for the pages that come with their APIs; nothing behind them yet.
  nav.append(h('h2', {}, 'Coming later'), h('ul', {},
    h('li', {}, h('span', { class: 'later', 'aria-disabled': 'true' }, 'Alerts', h('small', {}, 'with the alerts API'))),
    h('li', {}, h('span', { class: 'later', 'aria-disabled': 'true' }, 'Reports', h('small', {}, 'with the reports API')))));
}

function renderWho() {
  const who = clear(document.getElementById('who'));
  if (!session.who) return;
  who.append(
    h('span', {}, 'Signed in as ', h('strong', {}, session.who.name)),
    h('span', { class: 'role' }, session.who.role),
    h('button', { type: 'button', class: 'small', onclick: signOut }, 'Sign out'));
}

function signOut() {
  session.key = null;
  session.who = null;
  location.hash = '#/dashboard';
  show();
}

function signIn(main, problem) {
  clear(document.getElementById('nav'));
  renderWho();
  const input = h('input', { type: 'password', autocomplete: 'off', spellcheck: 'false', required: true });
  const form = h('form', {
    class: 'signin',
    onsubmit: async (e) => {
      e.preventDefault();
      session.key = input.value.trim();
      await show();
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'lead' }, 'Paste an API key with a reading role (auditor, approver, privacy or admin). It is kept only while this tab is open and is sent only in request headers.'),
  field('API key', input),
  problem ? status('error', problem) : null,
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign in')));
  main.append(form);
  input.focus();
}

async function show() {
  const main = clear(document.getElementById('main'));
  delete main.dataset.ready;
  if (!session.key) return signIn(main);
  if (!session.who) {
    try {
      session.who = await api('/api/v1/whoami');
    } catch (e) {
      session.key = null;
      const why = e instanceof ApiError && e.status === 401 ? 'That key is not known to this server.' : e.message;
      return signIn(main, why);
    }
  }
  renderWho();
  const { id, args } = route();
  const entry = [...PAGES, ...HIDDEN].find((p) => p.id === id);
  renderNav(entry ? entry.nav || entry.id : id);
  if (!may(READERS)) {
    main.append(h('h1', {}, 'Nothing to read with this key'),
      status('warn', `The key “${session.who.name}” has the ${session.who.role} role, which writes events but reads none. Sign in with an auditor, approver, privacy or admin key.`));
    return;
  }
  if (!entry) {
    main.append(h('h1', {}, 'No such page'), h('p', {}, h('a', { href: '#/dashboard' }, 'Go to the dashboard')));
    return;
  }
  if (!may(entry.roles)) {
    main.append(h('h1', {}, 'Not for this role'), status('warn', `The ${session.who.role} role cannot open this page.`));
    return;
  }
  try {
    await (entry.render || entry.page.render)(main, args);
  } catch (e) {
    main.append(status('error', e.message));
  }
  // Everything this page loads has arrived (tests and assistive tools wait for it).
  main.dataset.ready = id;
}

window.addEventListener('hashchange', () => {
  show().then(() => document.getElementById('main').focus({ preventScroll: true }));
});
show();
