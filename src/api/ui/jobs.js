// The jobs page: one page of GET /jobs at a time (the API's cursor; never every job), filters
// the API has (paused, trigger type, order), and a search by id prefix over the loaded page
// (the API has no search parameter, so the page says it filters what it shows). Refreshes
// every few seconds in place, keeping the scroll position.

import { get, problem, query } from './api.js';
import { el, page, replace, notice } from './dom.js';
import { utc, local, triggerWords } from './format.js';

const PAGE_SIZE = 50;
const REFRESH_MS = 5000;

/// Filters survive leaving the page and coming back within the tab.
const state = { paused: '', trigger_type: '', order: 'next_run', search: '', cursors: [null] };

export async function jobsPage(who) {
  const status = notice('error');
  const body = el('tbody', { id: 'jobs-body' });
  const info = el('p', { class: 'hint', id: 'jobs-info' });
  const pager = el('div', { class: 'pager' });
  const table = el('table', { class: 'jobs', id: 'jobs-table' },
    el('caption', { class: 'visually-hidden' }, 'Jobs, ordered as chosen above'),
    el('thead', {}, el('tr', {}, ['ID', 'Name', 'Trigger', 'Next run', 'Last run', 'State']
      .map((h) => el('th', { scope: 'col' }, h)))),
    body);
  let latest = null;
  const render = () => renderRows(body, info, latest);
  const load = async () => {
    const cursor = state.cursors[state.cursors.length - 1];
    const answer = await get('/jobs' + query({
      limit: PAGE_SIZE, cursor, paused: state.paused, trigger_type: state.trigger_type, order: state.order,
    }));
    if (answer.status !== 200) { status.textContent = problem(answer); return; }
    status.textContent = '';
    latest = answer.body.data;
    const y = window.scrollY;
    render();
    renderPager(pager, latest, load);
    window.scrollTo(0, y);
  };
  const restart = () => { state.cursors = [null]; load(); };
  page('Jobs',
    toolbar(who, restart, render),
    el('p', { class: 'hint' }, 'Search matches the start of an id on the page shown; the API has no search, so use the filters to narrow the listing.'),
    status, info, el('div', { class: 'table-wrap' }, table), pager);
  await load();
  const timer = setInterval(load, REFRESH_MS);
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
    select('order', 'Order', state.order, [['next_run', 'next run'], ['id', 'id']], set('order')),
    who.role === 'admin' ? el('a', { class: 'button', id: 'new-job', href: '#/new' }, 'New job') : null);
}

function renderRows(body, info, data) {
  if (!data) return;
  const prefix = state.search;
  const shown = data.jobs.filter((j) => j.id.startsWith(prefix));
  replace(body, shown.map(row));
  if (shown.length === 0) {
    body.appendChild(el('tr', {}, el('td', { colspan: 6 }, data.jobs.length ? 'No job on this page matches.' : 'No jobs.')));
  }
  info.textContent = prefix
    ? `${shown.length} of ${data.jobs.length} jobs on this page match “${prefix}”.`
    : `${data.jobs.length} jobs on this page.`;
}

function row(job) {
  const last = job.last_run;
  const expression = job.trigger.type === 'cron' ? job.trigger.expr : job.trigger_details;
  return el('tr', { 'data-job': job.id },
    el('td', {}, el('a', { href: `#/job/${encodeURIComponent(job.id)}`, class: 'job-link' }, job.id)),
    el('td', { class: 'job-name' }, job.name || ''),
    el('td', {}, triggerWords(job.trigger), el('br'), el('code', {}, expression)),
    el('td', {}, utc(job.next_run_time), el('br'), el('small', {}, local(job.next_run_time))),
    el('td', {}, last ? el('span', { class: `status status-${last.status}` }, last.status) : '—'),
    el('td', {}, job.paused ? 'paused' : (job.next_run_time ? 'active' : 'finished')));
}

function renderPager(pager, data, load) {
  const back = state.cursors.length > 1;
  replace(pager,
    el('button', { type: 'button', id: 'prev-page', disabled: !back,
      onclick: () => { state.cursors.pop(); load(); } }, '← Previous'),
    el('span', {}, ` Page ${state.cursors.length} `),
    el('button', { type: 'button', id: 'next-page', disabled: !data.next_cursor,
      onclick: () => { state.cursors.push(data.next_cursor); load(); window.scrollTo(0, 0); } }, 'Next →'));
}
