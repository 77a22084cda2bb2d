// Two small charts drawn as SVG from what the API answered: the durations of a job's last runs
// (job page) and the fire times of the listed jobs over the next 24 hours (jobs page). Each
// has a text alternative (a caption that summarises it and names the chart, a <title> on every
// mark, and, for the timeline, the times as text); colours are app.css classes paired with the
// status word in the legend, never colour alone, and never a style attribute (the CSP).

import { el, svg } from './dom.js';
import { utc, local, duration } from './format.js';

/// Bar chart geometry, in pixels.
const BAR = { slot: 26, width: 18, height: 100, top: 4 };

/// `runs` (newest first, as GET /jobs/{id}/runs lists them) as bars, oldest on the left. A bar's
/// height is its run's duration relative to the longest shown; a run without a duration
/// (missed, skipped, still running) is a short stub, so every run has its bar.
export function runsChart(runs) {
  const shown = [...runs].reverse();
  const durations = shown.map((r) => r.duration_ms).filter((d) => d !== null && d !== undefined);
  const longest = Math.max(1, ...durations);
  const counts = countBy(shown, (r) => r.status);
  const summary = `Durations of the last ${shown.length} runs, oldest on the left: `
    + Object.entries(counts).map(([status, n]) => `${n} ${status}`).join(', ')
    + (durations.length ? `; the longest took ${duration(Math.max(...durations))}.` : '; none has a duration yet.');
  const bottom = BAR.top + BAR.height;
  const width = shown.length * BAR.slot;
  const bars = shown.map((run, i) => {
    const known = run.duration_ms !== null && run.duration_ms !== undefined;
    const h = known ? Math.max(2, Math.round((run.duration_ms / longest) * BAR.height)) : 2;
    return svg('rect', {
      class: `bar bar-${run.status}`, 'data-run': run.id,
      x: i * BAR.slot + (BAR.slot - BAR.width) / 2, y: bottom - h, width: BAR.width, height: h,
    }, svg('title', {}, `#${run.id} ${run.status}, ${duration(run.duration_ms)}, scheduled ${utc(run.scheduled_at)}`));
  });
  return el('figure', { class: 'chart', id: 'runs-figure' },
    svg('svg', {
      id: 'runs-chart', role: 'img', 'aria-labelledby': 'runs-chart-summary',
      width, height: bottom + 2, viewBox: `0 0 ${width} ${bottom + 2}`,
    },
    svg('line', { class: 'axis', x1: 0, x2: width, y1: bottom + 0.5, y2: bottom + 0.5 }),
    bars),
    el('figcaption', {}, el('span', { id: 'runs-chart-summary' }, summary), el('br'), legend(counts)));
}

/// Timeline geometry, in SVG units (the drawing scales to the page's width).
const LANE = { label: 190, hour: 30, row: 18, axis: 22 };
const HOUR_MS = 3600e3;

/// `rows` ([{id, times: [RFC 3339], more}]) as one lane per job across the 24 hours after
/// `start` (ms since the epoch), one mark per fire time. `more` says the preview was cut off
/// before the window's end (the job fires even more often than shown).
export function timelineChart(rows, start) {
  const plot = 24 * LANE.hour;
  const width = LANE.label + plot + 12;
  const height = LANE.axis + rows.length * LANE.row + 4;
  const x = (instant) => LANE.label + ((Date.parse(instant) - start) / HOUR_MS) * LANE.hour;
  const total = rows.reduce((n, row) => n + row.times.length, 0);
  const cut = rows.some((row) => row.more);
  const summary = `${total}${cut ? ' or more' : ''} fire times of ${rows.length} ${rows.length === 1 ? 'job' : 'jobs'} `
    + 'in the next 24 hours, from now on the left to 24 hours from now on the right.';
  const ticks = [0, 6, 12, 18, 24].map((h) => {
    const at = LANE.label + h * LANE.hour;
    const anchor = h === 0 ? 'start' : h === 24 ? 'end' : 'middle';
    return svg('g', { class: 'tick' },
      svg('line', { x1: at, x2: at, y1: LANE.axis - 4, y2: height }),
      svg('text', { x: at, y: LANE.axis - 8, 'text-anchor': anchor }, h === 0 ? 'now' : `+${h} h`));
  });
  const lanes = rows.map((row, i) => {
    const top = LANE.axis + i * LANE.row;
    const label = row.id.length > 26 ? `${row.id.slice(0, 25)}…` : row.id;
    return svg('g', { class: 'lane', 'data-job': row.id },
      svg('text', { class: 'lane-label', x: LANE.label - 8, y: top + LANE.row * 0.7, 'text-anchor': 'end' },
        label, svg('title', {}, row.more ? `${row.id} (fires more often than shown)` : row.id)),
      svg('line', { class: 'lane-line', x1: LANE.label, x2: LANE.label + plot, y1: top + LANE.row / 2, y2: top + LANE.row / 2 }),
      row.times.map((t) => svg('rect', { class: 'mark', x: x(t) - 1, y: top + 3, width: 2, height: LANE.row - 6 },
        svg('title', {}, `${row.id} at ${utc(t)} (${local(t)})`))));
  });
  return el('figure', { class: 'chart timeline', id: 'timeline-figure' },
    svg('svg', {
      id: 'timeline-chart', role: 'img', 'aria-labelledby': 'timeline-summary',
      viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'xMinYMin meet',
    }, ticks, lanes),
    el('figcaption', {}, el('span', { id: 'timeline-summary' }, summary)),
    el('details', {}, el('summary', {}, 'The same as text'),
      el('ul', { id: 'timeline-text' }, rows.map(timesAsText))));
}

/// One job's fire times in words: how many, and the first few in UTC.
function timesAsText(row) {
  const first = row.times.slice(0, 5).map(utc).join(', ');
  const rest = row.times.length - 5;
  const count = `${row.times.length}${row.more ? ' or more' : ''} ${row.times.length === 1 ? 'time' : 'times'}`;
  return el('li', {}, el('code', {}, row.id), `: ${count}: ${first}${rest > 0 ? `, and ${rest} more` : ''}.`);
}

/// A key per status present, in the bars' colours, with the word and the count.
function legend(counts) {
  return el('span', { class: 'legend' }, Object.entries(counts).map(([status, n]) =>
    el('span', { class: 'legend-item' }, el('span', { class: `swatch bar-${status}`, 'aria-hidden': 'true' }), `${status} ${n}`)));
}

function countBy(items, key) {
  const counts = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] || 0) + 1;
  return counts;
}
