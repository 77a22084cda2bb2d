// The audit trail: GET /audit, newest first, paged with its cursor; filter by job id.

import { get, problem, query } from './api.js';
import { el, page, replace, notice } from './dom.js';
import { utc, local } from './format.js';

export async function auditPage() {
  const status = notice('error');
  const list = el('div', { class: 'table-wrap' });
  const pager = el('div', { class: 'pager' });
  const view = { cursors: [null], job: '' };
  const load = async () => {
    const cursor = view.cursors[view.cursors.length - 1];
    const answer = await get('/audit' + query({ limit: 50, cursor, job_id: view.job }));
    if (answer.status !== 200) { status.textContent = problem(answer); return; }
    status.textContent = '';
    const { entries, next_cursor: next } = answer.body.data;
    replace(list, el('table', { id: 'audit' },
      el('thead', {}, el('tr', {}, ['When', 'Key', 'Action', 'Job', 'Detail'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, entries.length ? entries.map((e) => el('tr', {},
        el('td', {}, utc(e.at), el('br'), el('small', {}, local(e.at))),
        el('td', {}, e.key_name),
        el('td', {}, e.action),
        el('td', {}, el('a', { href: `#/job/${encodeURIComponent(e.job_id)}` }, e.job_id)),
        el('td', {}, e.detail ? el('code', {}, JSON.stringify(e.detail)) : '')))
        : el('tr', {}, el('td', { colspan: 5 }, 'No changes recorded.')))));
    replace(pager,
      el('button', { type: 'button', disabled: view.cursors.length < 2, onclick: () => { view.cursors.pop(); load(); } }, '← Newer'),
      el('button', { type: 'button', disabled: !next, onclick: () => { view.cursors.push(next); load(); } }, 'Older →'));
  };
  const filter = el('form', { class: 'toolbar', onsubmit: (e) => {
    e.preventDefault(); view.job = e.target.elements.job.value.trim(); view.cursors = [null]; load();
  } },
  el('label', { for: 'audit-job' }, 'Job id ', el('input', { id: 'audit-job', name: 'job', type: 'search' })),
  el('button', { type: 'submit' }, 'Filter'));
  page('Audit trail', filter, status, list, pager);
  await load();
  return null;
}
