// The health panel: GET /healthz and /readyz (no key needed) and the gauges of GET /metrics
// (monitor and admin keys): the probes, the scheduler's state and the due backlog.
// Refreshed every few seconds.

import { get } from './api.js';
import { el, page, replace } from './dom.js';
import { utc } from './format.js';

const REFRESH_MS = 5000;
/// Metrics shown, by their OpenMetrics name prefix.
const GAUGES = ['schedlite_jobs', 'schedlite_jobs_paused', 'schedlite_runs_running', 'schedlite_due_backlog'];

export async function healthPage() {
  const panel = el('div', { id: 'health', class: 'health' });
  page('Health', panel);
  const load = async () => {
    const [health, ready, metrics] = await Promise.all([
      get('/healthz', { raw: true }), get('/readyz', { raw: true }), get('/metrics')]);
    replace(panel, probe('Liveness (/healthz)', health, details(health)), probe('Readiness (/readyz)', ready, null),
      gauges(metrics));
  };
  await load();
  const timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}

function probe(title, answer, extra) {
  const good = answer.status === 200;
  const detail = answer.body && answer.body.detail;
  return el('section', { class: `probe ${good ? 'probe-ok' : 'probe-bad'}` },
    el('h2', {}, title),
    el('p', {}, el('span', { class: `status ${good ? 'status-succeeded' : 'status-failed'}` }, good ? 'ok' : `HTTP ${answer.status}`),
      detail ? ` ${detail.message}` : ''),
    extra);
}

function details(answer) {
  const d = answer.body && answer.body.data;
  if (!d || typeof d !== 'object') return null;
  const s = d.scheduler || {};
  const rows = [
    ['Database', d.database], ['Schema version', `${d.schema_version} (latest known ${d.schema_latest_known})`],
    ['Jobs', d.job_count], ['Scheduler', s.state], ['Last loop pass', utc(s.last_pass_at)],
    ['Instance', s.instance_id], ['Uptime', `${d.uptime_seconds} s`],
  ];
  return el('dl', { class: 'definition' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v ?? '—'))]));
}

/// The gauges from the OpenMetrics text; lines are `name{labels} value`.
function gauges(answer) {
  const section = el('section', { class: 'probe' }, el('h2', {}, 'Metrics (/metrics)'));
  if (answer.status !== 200 || typeof answer.body !== 'string') {
    section.appendChild(el('p', {}, `Not available to this key (HTTP ${answer.status}).`));
    return section;
  }
  const rows = answer.body.split('\n')
    .filter((line) => GAUGES.some((g) => line.startsWith(g + ' ') || line.startsWith(g + '{')))
    .map((line) => {
      const cut = line.lastIndexOf(' ');
      return [el('dt', {}, line.slice(0, cut)), el('dd', {}, line.slice(cut + 1))];
    });
  section.appendChild(rows.length ? el('dl', { class: 'definition', id: 'gauges' }, rows) : el('p', {}, 'No gauges found.'));
  return section;
}
