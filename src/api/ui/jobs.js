// The jobs page: one page of GET /jobs at a time (the API's cursor; never every job), filters
// the API has (paused, trigger type, health, order), each job's health as the API computes it, and a search by id prefix and a filter by last
// run status over the loaded page (the API has neither, so the page says it filters what it
// shows). Refreshes
// every few seconds in place, keeping the scroll position. Below the table, the timeline of
// the next 24 hours of the jobs on the page (timeline.js).

import { get, problem, query } from './api.js';
import { el, page, replace, notice } from './dom.js';
import { utc, local, triggerWords } from './format.js';
import { timeline } from './timeline.js';

const PAGE_SIZE = 50;
const REFRESH_MS = 5000;

/// Filters survive leaving the page and coming back within the tab.
const state = { paused: '', trigger_type: '', health: '', order: 'next_run', search: '', last: '', cursors: [null] };

/// The healths of GET /jobs, by the API's precedence.
export const HEALTHS = ['broken', 'paused', 'stuck', 'failing', 'finished', 'late', 'ok'];

const STATUSES = ['succeeded', 'failed', 'timed_out', 'running', 'missed', 'skipped', 'interrupted'];

export async function jobsPage(who) {
  const status = notice('error');
  const body = el('tbody', { id: 'jobs-body' });
  const info = el('p', { class: 'hint', id: 'jobs-info' });
  const pager = el('div', { class: 'pager' });
  const table = el('table', { class: 'jobs', id: 'jobs-table' },
    el('caption', { class: 'visually-hidden' }, 'Jobs, ordered as chosen above'),
    el('thead', {}, el('tr', {}, ['ID', 'Name', 'Trigger', 'Next run', 'Last run', 'Health']
      .map((h) => el('th', { scope: 'col' }, h)))),
    body);
  let latest = null;
  const render = () => renderRows(body, info, latest);
  const upcoming = timeline();
  /// `moved`: the page or a filter changed, so the timeline is redrawn at once.
  const load = async (moved = false) => {
    const cursor = state.cursors[state.cursors.length - 1];
    const answer = await get('/jobs' + query({
      limit: PAGE_SIZE, cursor, paused: state.paused, trigger_type: state.trigger_type, health: state.health,
      order: state.order,
    }));
    if (answer.status !== 200) { status.textContent = problem(answer); return; }
    status.textContent = '';
    latest = answer.body.data;
    const y = window.scrollY;
    render();
    renderPager(pager, latest, load);
    window.scrollTo(0, y);
    // A broken job has no trigger to draw.
    upcoming.update(latest.jobs.filter((j) => j.health !== 'broken'), moved);
  };
  const restart = () => { state.cursors = [null]; load(true); };
  page('Jobs',
    toolbar(who, restart, render),
    el('p', { class: 'hint' }, 'Search and the last-run filter apply to the page shown; the API has neither, so use the other filters to narrow the listing.'),
    status, info, el('div', { class: 'table-wrap' }, table), pager, upcoming.section);
  await load(true);
  const timer = setInterval(() => load(false), REFRESH_MS);
  return () => clearInterval(timer);
}

function select(id, label, value, options, onchange) {
  return el('label', { for: id }, label, ' ',
    el('select', { id, onchange },
      options.map(([v, text]) => el('option', { value: v, selected: v === value }, text))));
}

function toolbar(who, restart, render) {
  const set = (name) => (e) => { state[name] = e.target.value; restart(); };
  return el('div', { class: 'toolbar' },
    el('label', { for: 'search' }, 'Search id ',
      el('input', { id: 'search', type: 'search', value: state.search, placeholder: 'id prefix',
        oninput: (e) => { state.search = e.target.value; render(); } })),
    select('filter-paused', 'State', state.paused, [['', 'all'], ['false', 'active'], ['true', 'paused']], set('paused')),
    select('filter-trigger', 'Trigger', state.trigger_type,
      [['', 'all'], ['cron', 'cron'], ['interval', 'interval'], ['date', 'date']], set('trigger_type')),
    select('filter-health', 'Health', state.health, [['', 'all'], ...HEALTHS.map((h) => [h, h])], set('health')),
    select('order', 'Order', state.order, [['next_run', 'next run'], ['id', 'id']], set('order')),
    select('filter-last', 'Last run', state.last, [['', 'any'], ...STATUSES.map((s) => [s, s]), ['none', 'never run']],
      (e) => { state.last = e.target.value; render(); }),
    who.role === 'admin' ? el('a', { class: 'button', id: 'new-job', href: '#/new' }, 'New job') : null);
}

/// Whether the job's last run has the status chosen (`none`: it never ran).
function lastRunIs(job, wanted) {
  if (!wanted) return true;
  return job.last_run ? job.last_run.status === wanted : wanted === 'none';
}

function renderRows(body, info, data) {
  if (!data) return;
  const prefix = state.search;
  const shown = data.jobs.filter((j) => j.id.startsWith(prefix) && lastRunIs(j, state.last));
  replace(body, shown.map(row));
  if (shown.length === 0) {
    body.appendChild(el('tr', {}, el('td', { colspan: 6 }, data.jobs.length ? 'No job on this page matches.' : 'No jobs.')));
  }
  const narrowed = [prefix ? `match “${prefix}”` : '', state.last ? `last run: ${state.last === 'none' ? 'never' : state.last}` : '']
    .filter(Boolean).join(', ');
  info.textContent = narrowed
    ? `${shown.length} of ${data.jobs.length} jobs on this page (${narrowed}).`
    : `${data.jobs.length} jobs on this page.`;
}

/// The health word in its colour (the word is always there: never colour alone).
export function healthBadge(health, id) {
  return el('span', { class: `health health-${health}`, id }, health);
}

function row(job) {
  if (job.health === 'broken') {
    return el('tr', { 'data-job': job.id },
      el('td', {}, el('a', { href: `#/job/${encodeURIComponent(job.id)}`, class: 'job-link' }, job.id)),
      el('td', { class: 'job-name' }, ''),
      el('td', { colspan: 3, class: 'job-problem' }, `Stored definition unreadable: ${job.problem}`),
      el('td', {}, healthBadge(job.health)));
  }
  const last = job.last_run;
  const expression = job.trigger.type === 'cron' ? job.trigger.expr : job.trigger_details;
  return el('tr', { 'data-job': job.id },
    el('td', {}, el('a', { href: `#/job/${encodeURIComponent(job.id)}`, class: 'job-link' }, job.id)),
    el('td', { class: 'job-name' }, job.name || ''),
    el('td', {}, triggerWords(job.trigger), el('br'), el('code', {}, expression)),
    el('td', {}, utc(job.next_run_time), el('br'), el('small', {}, local(job.next_run_time))),
    el('td', {}, last ? el('span', { class: `status status-${last.status}` }, last.status) : '—'),
    el('td', {}, healthBadge(job.health)));
}

function renderPager(pager, data, load) {
  const back = state.cursors.length > 1;
  replace(pager,
    el('button', { type: 'button', id: 'prev-page', disabled: !back,
      onclick: () => { state.cursors.pop(); load(true); } }, '← Previous'),
    el('span', {}, ` Page ${state.cursors.length} `),
    el('button', { type: 'button', id: 'next-page', disabled: !data.next_cursor,
      onclick: () => { state.cursors.push(data.next_cursor); load(true); window.scrollTo(0, 0); } }, 'Next →'));
}
