// Dashboard: actions per hour per agent, error rate, escalations, approvals waiting
// and their age. Two requests, both aggregates served from indexes
// (`/api/v1/stats/...`): no record is loaded.

import { api } from '../api.js';
import { h, field, status } from '../dom.js';
import { stackedBars, percentLine, horizontalBars, legend } from '../charts.js';
import { age, count, time } from '../format.js';

let chosenDay = '';

export async function render(main) {
  const day = h('input', { type: 'date', value: chosenDay });
  const form = h('form', {
    class: 'filters inline',
    onsubmit: (e) => {
      e.preventDefault();
      chosenDay = day.value;
      main.replaceChildren();
      render(main);
    },
  }, field('24 hours ending on (UTC; empty: now)', day), h('div', { class: 'go' }, h('button', { type: 'submit' }, 'Show')));
  main.append(h('h1', {}, 'Dashboard'),
    h('p', { class: 'lead' }, 'What the agents did, hour by hour (by the events’ own timestamps, UTC), and what waits for a person.'),
    form);
  const query = chosenDay ? { to: `${chosenDay}T23:59:59Z` } : {};
  const [activity, waiting] = await Promise.all([
    api('/api/v1/stats/activity', { query }),
    api('/api/v1/stats/approvals'),
  ]);
  const hours = activity.hours;
  const total = activity.events.reduce((a, b) => a + b, 0);
  const errors = activity.errors.reduce((a, b) => a + b, 0);
  const escalations = activity.escalations.reduce((a, b) => a + b, 0);
  const names = activity.agents.map((a) => a.agent);

  const cards = h('div', { class: 'cards' });
  cards.append(
    h('section', { class: 'card span2', 'aria-labelledby': 'c-actions' },
      h('h2', { id: 'c-actions' }, 'Actions per hour, by agent'),
      h('p', { class: 'muted' }, `${count(total)} events from ${time(activity.from)} to ${time(activity.to)}`),
      total ? stackedBars({ hours, series: activity.agents.map((a) => ({ name: a.agent, values: a.events })), label: `Events per hour by agent: ${count(total)} in total` }) : status('info', 'No agent events in this window.'),
      legend(names)),
    h('section', { class: 'card', 'aria-labelledby': 'c-waiting' },
      h('h2', { id: 'c-waiting' }, 'Approvals waiting'),
      h('div', { class: 'big' }, count(waiting.waiting)),
      h('p', { class: 'muted' }, waiting.oldest_opened_at ? `oldest waiting ${age(waiting.oldest_age_seconds)} (since ${time(waiting.oldest_opened_at)})` : 'none waiting'),
      horizontalBars({ items: waiting.bands.map((b) => ({ label: b.label, value: b.count })), label: 'Approvals waiting by age', colour: '#d9730d' }),
      h('p', {}, h('a', { href: '#/approvals' }, 'Open the queue'))),
    h('section', { class: 'card span2', 'aria-labelledby': 'c-errors' },
      h('h2', { id: 'c-errors' }, 'Error rate'),
      h('p', { class: 'muted' }, `${count(errors)} error events of ${count(total)} (${total ? ((100 * errors) / total).toFixed(1) : '0.0'}%)`),
      percentLine({ hours, values: activity.events.map((n, i) => (n ? (100 * activity.errors[i]) / n : null)), label: 'Share of events that are errors, per hour' })),
    h('section', { class: 'card', 'aria-labelledby': 'c-esc' },
      h('h2', { id: 'c-esc' }, 'Escalations to a person'),
      h('p', { class: 'muted' }, `${count(escalations)} approval requests opened by policy`),
      stackedBars({ hours, series: [{ name: 'escalations', values: activity.escalations, colour: '#d9730d' }], label: 'Approval requests per hour', unit: 'requests', height: 180 })),
  );
  main.append(cards, h('p', { class: 'muted' }, `Counts cover the first ${count(activity.indexed_through)} log entries (they follow the search index).`));
}
