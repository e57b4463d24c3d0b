// Tokens and their reveal. Subjects and personal data are shown as tokens; a privacy
// key may reveal one, after giving a reason: the server logs each reveal as a
// `vault_access` event. Other roles are refused by the server, and the page says so.

import { api } from '../api.js';
import { h, ask } from '../dom.js';

/** A token with a Reveal button; `open` (optional) follows the token. */
export function subjectToken(token, open) {
  const shown = open
    ? h('a', { href: '#/search', class: 'token', title: token, onclick: (e) => { e.preventDefault(); open(); } }, token)
    : h('span', { class: 'token', title: token }, token);
  return h('span', { class: 'tokened' }, shown, ' ', revealButton(token));
}

export function revealButton(token) {
  const out = h('span', { class: 'reveal-out', 'aria-live': 'polite' });
  const button = h('button', {
    type: 'button',
    class: 'small secondary',
    'aria-label': `Reveal ${token}`,
    onclick: async () => {
      const reason = await ask({ title: 'Reveal a personal value', label: 'Why do you need to see it? (logged)', confirm: 'Reveal' });
      if (!reason) return;
      try {
        const answer = await api('/api/v1/vault/reveal', { method: 'POST', body: { tokens: [token], reason } });
        const value = answer.values?.[token];
        out.replaceChildren(value === undefined
          ? h('span', { class: 'pill warn' }, answer.erased?.includes(token) ? 'erased' : 'unknown')
          : h('span', { class: 'revealed' }, value));
        button.remove();
      } catch (e) {
        out.replaceChildren(h('span', { class: 'pill bad', role: 'alert' }, e.status === 403 ? 'Refused: only the privacy role may reveal' : `Refused: ${e.message}`));
      }
    },
  }, 'Reveal');
  return h('span', {}, button, out);
}
