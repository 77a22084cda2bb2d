// One job: its definition, the next 10 fire times from GET /jobs/{id}/preview with their DST
// marks, its run history (paged, refreshed while the first page is shown) with a chart of the
// last runs' durations (drawn from the newest page, kept while older pages are read) and, for
// an admin, pause / resume / run now / edit / delete (delete asks first).

import { call, get, problem, query } from './api.js';
import { el, page, replace, notice, confirmDialog } from './dom.js';
import { utc, local, duration, lateness, triggerWords } from './format.js';
import { runsChart } from './charts.js';
import { healthBadge } from './jobs.js';

const RUNS_PAGE = 20;
const REFRESH_MS = 2000;

export async function jobPage(who, id) {
  const path = `/jobs/${encodeURIComponent(id)}`;
  const status = notice('error');
  const done = notice('info');
  const parts = {
    definition: el('section', { 'aria-labelledby': 'def-h' }),
    preview: el('section', { 'aria-labelledby': 'preview-h' }),
    runs: el('section', { 'aria-labelledby': 'runs-h' }),
  };
  const view = { cursors: [null], chart: null, asked: 0 };
  const refresh = async () => {
    const job = await get(path);
    if (job.status !== 200) { status.textContent = problem(job); return; }
    status.textContent = '';
    const data = job.body.data;
    if (data.health === 'broken') {
      showBroken(parts.definition, data, who, path, { status, done, refresh });
      replace(parts.preview);
    } else {
      showDefinition(parts.definition, data, who, path, { status, done, refresh });
      const preview = await get(`${path}/preview?count=10`);
      showPreview(parts.preview, preview);
    }
    await showRuns(parts.runs, path, view);
  };
  page(`Job ${id}`, status, done, parts.definition, parts.preview, parts.runs);
  await refresh();
  const timer = setInterval(() => { if (view.cursors.length === 1) refresh(); }, REFRESH_MS);
  return () => clearInterval(timer);
}

function term(name, ...value) {
  return [el('dt', {}, name), el('dd', {}, ...value)];
}

function showDefinition(section, job, who, path, ui) {
  const expression = job.trigger.type === 'cron' ? job.trigger.expr : job.trigger_details;
  const action = job.action.type === 'http' ? `http ${job.action.method} ${job.action.url}`
    : job.action.type === 'command' ? `command ${[job.action.program, ...job.action.args].join(' ')}` : job.action.type;
  replace(section,
    el('h2', { id: 'def-h' }, 'Definition'),
    who.role === 'admin' ? actions(job, path, ui) : null,
    el('dl', { class: 'definition', id: 'definition' },
      term('Name', el('span', { id: 'job-name' }, job.name || '—')),
      term('Trigger', triggerWords(job.trigger), ' ', el('code', {}, expression)),
      term('Health', healthBadge(job.health, 'job-health')),
      term('State', el('span', { id: 'job-state' }, job.paused ? 'paused' : (job.next_run_time ? 'active' : 'finished'))),
      job.expect ? term('Expected', el('span', { id: 'job-expect' }, expectWords(job.expect))) : null,
      job.history ? term('History kept', el('span', { id: 'job-history' }, historyWords(job.history))) : null,
      term('Last success', utc(job.last_success_at)),
      term('Failures in a row', String(job.consecutive_failures)),
      job.pause ? term('Paused', el('span', { id: 'job-pause' }, pauseWords(job.pause))) : null,
      job.skip ? term('Skipping', el('span', { id: 'job-skip' }, skipWords(job.skip))) : null,
      term('Next run', utc(job.next_run_time), ' ', el('small', {}, local(job.next_run_time))),
      term('Action', el('code', {}, action)),
      term('Misfire grace', `${job.misfire_grace_seconds} s`),
      term('Coalesce', job.coalesce ? 'yes' : 'no'),
      term('Max instances', String(job.max_instances)),
      term('Jitter', `${job.jitter_seconds} s`),
      term('Created', utc(job.created_at)),
      term('Updated', utc(job.updated_at))));
}

/// A job whose stored row cannot be read: its health, what is wrong, and for an admin the two
/// ways out (a valid PUT through the form, or delete).
function showBroken(section, job, who, path, ui) {
  replace(section,
    el('h2', { id: 'def-h' }, 'Definition'),
    who.role === 'admin' ? el('div', { class: 'actions', id: 'job-actions' },
      el('a', { class: 'button', id: 'edit', href: `#/edit/${encodeURIComponent(job.id)}` }, 'Edit')) : null,
    el('dl', { class: 'definition', id: 'definition' },
      term('Health', healthBadge(job.health, 'job-health')),
      term('Problem', el('span', { id: 'job-problem' }, job.problem))));
}

/// 'a success every 3600 s, at most 3 failures in a row, runs of at most 600 s'.
function expectWords(expect) {
  return [
    expect.success_within_seconds !== null ? `a success every ${expect.success_within_seconds} s` : '',
    expect.max_consecutive_failures !== null ? `at most ${expect.max_consecutive_failures} failures in a row` : '',
    expect.max_run_seconds !== null ? `runs of at most ${expect.max_run_seconds} s` : '',
  ].filter(Boolean).join(', ');
}

/// 'runs 7 days, failed runs 90 days, at most 50 runs': the job's own limits; the server's
/// flags decide what it leaves out.
function historyWords(history) {
  return [
    history.keep_days !== null ? `runs ${history.keep_days} days` : '',
    history.keep_failed_days !== null ? `failed runs ${history.keep_failed_days} days` : '',
    history.keep_runs !== null ? `at most ${history.keep_runs} runs` : '',
  ].filter(Boolean).join(', ');
}

/// 'by ops at 2026-12-01 10:00:00 UTC, until 2026-12-01 12:00:00 UTC: database upgrade'.
function pauseWords(pause) {
  const until = pause.until ? `, until ${utc(pause.until)}` : ', until resumed';
  return `by ${pause.by} at ${utc(pause.at)}${until}${pause.reason ? `: ${pause.reason}` : ''}`;
}

/// 'the next 3 occurrences: holiday'.
function skipWords(skip) {
  const what = skip.count === 1 ? 'the next occurrence' : `the next ${skip.count} occurrences`;
  return `${what}${skip.reason ? `: ${skip.reason}` : ''}`;
}

function actions(job, path, ui) {
  const act = async (what, method, suffix, message) => {
    const answer = await call(method, path + suffix);
    if (answer.status >= 300) { ui.status.textContent = problem(answer); return; }
    ui.done.textContent = message;
    if (method === 'DELETE') { location.hash = '#/jobs'; return; }
    ui.refresh();
  };
  const remove = async () => {
    if (await confirmDialog(`Delete job “${job.id}”? Its run history goes with it.`)) {
      act('delete', 'DELETE', '', `Job ${job.id} deleted.`);
    }
  };
  return el('div', { class: 'actions', id: 'job-actions' },
    job.paused
      ? el('button', { type: 'button', id: 'resume', onclick: () => act('resume', 'POST', '/resume', 'Resumed.') }, 'Resume')
      : el('button', { type: 'button', id: 'pause', onclick: () => act('pause', 'POST', '/pause', 'Paused.') }, 'Pause'),
    el('button', { type: 'button', id: 'run-now', onclick: () => act('run', 'POST', '/run', 'Run started.') }, 'Run now'),
    el('a', { class: 'button', id: 'edit', href: `#/edit/${encodeURIComponent(job.id)}` }, 'Edit'),
    el('button', { type: 'button', id: 'delete', class: 'danger', onclick: remove }, 'Delete'));
}

function showPreview(section, answer) {
  const content = answer.status !== 200
    ? el('p', { class: 'notice error' }, problem(answer))
    : el('ol', { id: 'preview', class: 'preview' }, answer.body.data.times.map((t) =>
      el('li', { 'data-dst': t.dst || '' }, utc(t.utc), ' · ', el('span', {}, t.local),
        t.dst ? el('span', { class: `dst dst-${t.dst}`, title: t.dst === 'shifted'
          ? 'This local time does not exist (clocks spring forward); moved past the gap.'
          : 'This local time happens twice (clocks fall back); this is the second.' }, `DST ${t.dst}`) : null)));
  const tz = answer.status === 200 ? ` (${answer.body.data.timezone})` : '';
  replace(section, el('h2', { id: 'preview-h' }, `Next 10 fire times${tz}`), content);
}

async function showRuns(section, path, view) {
  const cursor = view.cursors[view.cursors.length - 1];
  const asked = ++view.asked;
  const answer = await get(`${path}/runs` + query({ limit: RUNS_PAGE, cursor }));
  if (asked !== view.asked) return; // a later page was asked for meanwhile: it is the one shown
  const heading = el('h2', { id: 'runs-h' }, 'Run history');
  if (answer.status !== 200) { replace(section, heading, el('p', { class: 'notice error' }, problem(answer))); return; }
  const { runs, next_cursor: next } = answer.body.data;
  const again = () => showRuns(section, path, view);
  if (!cursor) view.chart = runs.length ? runsChart(runs) : null;
  replace(section, heading, view.chart,
    el('div', { class: 'table-wrap' }, el('table', { id: 'runs' },
      el('thead', {}, el('tr', {}, ['Run', 'Status', 'Scheduled', 'Lateness', 'Duration', 'Result']
        .map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, runs.length ? runs.map(runRow) : el('tr', {}, el('td', { colspan: 6 }, 'No runs yet.'))))),
    el('div', { class: 'pager' },
      el('button', { type: 'button', id: 'runs-prev', disabled: view.cursors.length < 2,
        onclick: () => { view.cursors.pop(); again(); } }, '← Newer'),
      el('button', { type: 'button', id: 'runs-next', disabled: !next,
        onclick: () => { view.cursors.push(next); again(); } }, 'Older →')));
}

function runRow(run) {
  const detail = run.error || run.output || '';
  const code = run.http_status !== null ? `HTTP ${run.http_status}` : run.exit_code !== null ? `exit ${run.exit_code}` : '';
  return el('tr', { 'data-run': String(run.id) },
    el('td', {}, `#${run.id} ${run.kind}`),
    el('td', {}, el('span', { class: `status status-${run.status}` }, run.status)),
    el('td', {}, utc(run.scheduled_at)),
    el('td', {}, lateness(run)),
    el('td', {}, duration(run.duration_ms)),
    el('td', { class: 'result' }, code ? el('span', {}, code, ' ') : null, el('code', {}, detail.slice(-500))));
}
