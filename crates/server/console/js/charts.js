// Hand-drawn SVG charts: nothing fetched, nothing evaluated. Each chart has a title
// and a text description for screen readers (`role="img"`, `aria-label`).

import { s, h } from './dom.js';

export const COLOURS = ['#1f77b4', '#d9730d', '#2a9d4b', '#c62d42', '#7b4fb0', '#8c564b', '#c2579c', '#5f6b7a'];

function niceMax(max) {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= max) return m * step;
  return 10 * step;
}

function hourLabel(text) {
  const t = new Date(text);
  return `${String(t.getUTCHours()).padStart(2, '0')}:00`;
}

/**
 * Stacked bars per hour: `series` = [{name, values}], `hours` = RFC 3339 strings.
 */
export function stackedBars({ hours, series, label, unit = 'events', width = 640, height = 220 }) {
  const pad = { l: 42, r: 10, t: 10, b: 26 };
  const totals = hours.map((_, i) => series.reduce((sum, x) => sum + (x.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const bw = iw / Math.max(1, hours.length);
  const y = (v) => pad.t + ih - (v / max) * ih;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': label });
  for (let k = 0; k <= 4; k++) {
    const v = (max / 4) * k;
    svg.append(s('line', { class: 'grid', x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }),
      s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, Number.isInteger(v) ? v : v.toFixed(1)));
  }
  hours.forEach((hour, i) => {
    let base = 0;
    series.forEach((x, k) => {
      const v = x.values[i] || 0;
      if (v > 0) {
        svg.append(s('rect', {
          x: pad.l + i * bw + 1, y: y(base + v), width: Math.max(1, bw - 2), height: Math.max(0.5, y(base) - y(base + v)),
          fill: x.colour || COLOURS[k % COLOURS.length],
        }, s('title', {}, `${hourLabel(hour)} UTC · ${x.name}: ${v} ${unit}`)));
      }
      base += v;
    });
    const every = Math.ceil(hours.length / 12);
    if (i % every === 0) svg.append(s('text', { x: pad.l + i * bw + bw / 2, y: height - 8, 'text-anchor': 'middle' }, hourLabel(hour)));
  });
  svg.append(s('line', { class: 'axis', x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0) }));
  return svg;
}

/** A line over hours with values in percent (null where undefined). */
export function percentLine({ hours, values, label, colour = '#c62d42', width = 640, height = 180 }) {
  const pad = { l: 42, r: 10, t: 10, b: 26 };
  const max = niceMax(Math.max(1, ...values.filter((v) => v !== null)));
  const iw = width - pad.l - pad.r;
  const ih = height - pad.t - pad.b;
  const x = (i) => pad.l + (hours.length <= 1 ? iw / 2 : (i / (hours.length - 1)) * iw);
  const y = (v) => pad.t + ih - (v / max) * ih;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': label });
  for (let k = 0; k <= 4; k++) {
    const v = (max / 4) * k;
    svg.append(s('line', { class: 'grid', x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }),
      s('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, `${Number.isInteger(v) ? v : v.toFixed(1)}%`));
  }
  let d = '';
  values.forEach((v, i) => {
    if (v === null) return;
    d += `${d && values[i - 1] !== null ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    svg.append(s('circle', { cx: x(i), cy: y(v), r: 2.5, fill: colour }, s('title', {}, `${hourLabel(hours[i])} UTC: ${v.toFixed(1)}%`)));
  });
  if (d) svg.append(s('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2 }));
  const every = Math.ceil(hours.length / 12);
  hours.forEach((hour, i) => {
    if (i % every === 0) svg.append(s('text', { x: x(i), y: height - 8, 'text-anchor': 'middle' }, hourLabel(hour)));
  });
  svg.append(s('line', { class: 'axis', x1: pad.l, x2: width - pad.r, y1: y(0), y2: y(0) }));
  return svg;
}

/** Horizontal bars with labels: [{label, value}]. */
export function horizontalBars({ items, label, colour = '#1f4e79', width = 360 }) {
  const rowH = 26;
  const pad = { l: 70, r: 40 };
  const max = niceMax(Math.max(1, ...items.map((i) => i.value)));
  const height = items.length * rowH + 6;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, width: '100%', role: 'img', 'aria-label': label });
  items.forEach((item, i) => {
    const w = ((width - pad.l - pad.r) * item.value) / max;
    const yy = i * rowH + 4;
    svg.append(
      s('text', { x: pad.l - 8, y: yy + 14, 'text-anchor': 'end' }, item.label),
      s('rect', { x: pad.l, y: yy, width: Math.max(item.value ? 2 : 0, w), height: 18, rx: 3, fill: colour }),
      s('text', { x: pad.l + w + 6, y: yy + 14 }, String(item.value)));
  });
  return svg;
}

/** A legend for series coloured by index. */
export function legend(names) {
  return h('div', { class: 'legend' }, names.map((name, k) => h('span', {}, h('span', { class: `swatch sw-${k % 8}` }), name)));
}
