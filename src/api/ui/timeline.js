// The jobs page's timeline: when the jobs on the page shown fire over the next 24 hours, from
// each job's own preview (GET /jobs/{id}/preview, the API's fire times, DST included). Bounded
// whatever the number of jobs: only the jobs of the page shown (one API page), only those whose
// next run falls in the window (a paused or finished job has none), at most CAP times each,
// and fetched again at most every REFRESH_MS unless the page or its filters change.

import { get, query } from './api.js';
import { el, replace } from './dom.js';
import { timelineChart } from './charts.js';

const WINDOW_MS = 24 * 3600e3;
/// Fire times asked per job: a job firing more often shows its first CAP, marked as cut.
const CAP = 100;
const REFRESH_MS = 30000;

/// The timeline's section and `update(jobs, now)`, which redraws it from the listed jobs when
/// `now` is true or its last drawing is older than REFRESH_MS.
export function timeline() {
  const heading = el('h2', { id: 'timeline-h' }, 'Next 24 hours');
  const hint = el('p', { class: 'hint' }, 'Fire times of the jobs on this page only, from each job’s preview.');
  const section = el('section', { id: 'timeline', 'aria-labelledby': 'timeline-h' }, heading, hint);
  let drawnAt = 0;
  let generation = 0;
  const update = async (jobs, now) => {
    if (!now && Date.now() - drawnAt < REFRESH_MS) return;
    drawnAt = Date.now();
    const mine = ++generation;
    const start = Date.now();
    const end = start + WINDOW_MS;
    const due = jobs.filter((j) => j.next_run_time && Date.parse(j.next_run_time) <= end);
    const from = new Date(start).toISOString();
    const answers = await Promise.all(due.map((j) =>
      get(`/jobs/${encodeURIComponent(j.id)}/preview` + query({ count: CAP, from }))));
    if (mine !== generation) return; // a newer update is under way
    const rows = [];
    answers.forEach((answer, i) => {
      if (answer.status !== 200) return; // deleted since the listing: nothing to show
      const all = answer.body.data.times.map((t) => t.utc);
      const times = all.filter((t) => Date.parse(t) <= end);
      if (times.length) rows.push({ id: due[i].id, times, more: all.length === CAP && times.length === CAP });
    });
    replace(section, heading, hint, rows.length
      ? timelineChart(rows, start)
      : el('p', { id: 'timeline-empty' }, 'None of the jobs on this page fires in the next 24 hours.'));
  };
  return { section, update };
}
