// Building the page without markup: every value from the server becomes a text node
// or an attribute set through the DOM, never HTML, so a hostile prompt or output is
// shown, not run. Links are made only by the console (`link`), from its own routes.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'href') {
      // Only the console's own routes: data never becomes a URL scheme.
      if (!String(value).startsWith('#/')) throw new Error('refusing a link outside the console');
      el.setAttribute('href', value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
}

/** An HTML element: h('td', {class: 'num'}, value). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** A link to a console route, e.g. link(['trace', id], id). */
export function link(route, ...children) {
  const path = route.map((part) => encodeURIComponent(part)).join('/');
  return h('a', { href: `#/${path}` }, ...children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A labelled form control. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 10)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', {}, hint) : null);
}

/** A status line that screen readers announce. */
export function status(kind, ...children) {
  return h('p', { class: `status ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** Pretty JSON as text. */
export function json(value) {
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2));
}

/** A modal that asks for one line of text; resolves to it, or null when cancelled. */
export function ask({ title, label, confirm, required = true }) {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', required, autocomplete: 'off' });
    const dialog = h('dialog', { class: 'ask', 'aria-label': title });
    const done = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    const form = h('form', {
      method: 'dialog',
      onsubmit: (e) => {
        e.preventDefault();
        if (required && !input.value.trim()) {
          input.focus();
          return;
        }
        done(input.value.trim());
      },
    },
    h('h2', {}, title),
    field(label, input),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => done(null) }, 'Cancel'),
      h('button', { type: 'submit' }, confirm)));
    dialog.append(form);
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      done(null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
