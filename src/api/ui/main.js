// The page's router: the hash names the page (#/jobs, #/job/<id>, #/new, #/edit/<id>,
// #/audit, #/health, #/login). What a role may see is decided here only for display; the
// API refuses what a role may not do whatever the page shows.

import { session, forget } from './api.js';
import { loginPage } from './login.js';
import { jobsPage } from './jobs.js';
import { jobPage } from './job.js';
import { formPage } from './form.js';
import { auditPage } from './audit.js';
import { healthPage } from './health.js';

/// The stop function of the page shown (its refresh timer), called before the next one.
let leave = null;

/// Pages per role: a monitor key may read the probes and metrics only (403 on /jobs).
function allowed(role, name) {
  if (role === 'monitor') return name === 'health';
  if (role === 'viewer') return !['new', 'edit'].includes(name);
  return true;
}

function showChrome(who) {
  const nav = document.getElementById('nav');
  nav.hidden = !who;
  document.getElementById('logout').hidden = !who;
  document.getElementById('who').textContent = who ? `${who.name} (${who.role})` : '';
  if (who) {
    const readsJobs = who.role !== 'monitor';
    document.getElementById('nav-jobs').hidden = !readsJobs;
    document.getElementById('nav-audit').hidden = !readsJobs;
  }
}

async function route() {
  if (leave) { leave(); leave = null; }
  const who = session();
  showChrome(who);
  const [name, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const arg = decodeURIComponent(rest.join('/'));
  if (!who) { leave = loginPage(); return; }
  const home = who.role === 'monitor' ? 'health' : 'jobs';
  const target = name && name !== 'login' ? name : home;
  if (!allowed(who.role, target)) { location.hash = `#/${home}`; return; }
  const pages = {
    jobs: () => jobsPage(who),
    job: () => jobPage(who, arg),
    new: () => formPage(null),
    edit: () => formPage(arg),
    audit: () => auditPage(),
    health: () => healthPage(),
  };
  const open = pages[target] || pages[home];
  leave = await open();
  document.getElementById('main').focus({ preventScroll: true });
}

document.getElementById('logout').addEventListener('click', () => {
  forget();
  location.hash = '#/login';
});
window.addEventListener('hashchange', route);
route();
