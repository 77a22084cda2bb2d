// Create (POST /jobs) and edit (PUT /jobs/{id}) a job. The form sends what was typed and
// shows the API's 422 answers next to the field they name (`trigger.expr: …`): the API is
// the one validator. As the trigger is typed, its reading in words and its next fire times
// (POST /triggers/preview, with DST marks) are shown live.

import { call, get, problem } from './api.js';
import { el, page, notice } from './dom.js';
import { cronWords, utc } from './format.js';

const PREVIEW_DELAY_MS = 300;

const TIMEZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

/// One labelled input; its error slot is found by the API field path in `data-field`.
function field(path, label, input, hint) {
  const id = 'f-' + path.replace(/\./g, '-');
  input.id = id;
  input.name = path;
  const error = el('span', { class: 'field-error', id: `${id}-error`, 'data-field': path, role: 'alert' });
  input.setAttribute('aria-describedby', `${id}-error`);
  return el('div', { class: 'field', 'data-for': path },
    el('label', { for: id }, label), input, hint ? el('small', {}, hint) : null, error);
}

const input = (attrs = {}) => el('input', { type: 'text', ...attrs });

function choose(options, value) {
  return el('select', {}, options.map((o) => el('option', { value: o, selected: o === value }, o)));
}

export async function formPage(id) {
  let job = null;
  if (id) {
    const answer = await get(`/jobs/${encodeURIComponent(id)}`);
    if (answer.status !== 200) { page('Edit job', el('p', { class: 'notice error', role: 'alert' }, problem(answer))); return null; }
    // A broken job (its stored row cannot be read) is edited from a blank form: saving it
    // declares it anew, which is how it is repaired.
    job = answer.body.data.health === 'broken' ? null : answer.body.data;
  }
  const e = (job && job.expect) || {};
  const num = (v) => (v === null || v === undefined ? '' : String(v));
  const t = job ? job.trigger : { type: 'cron', expr: '0 3 * * *', timezone: TIMEZONE };
  const a = job ? job.action : { type: 'noop' };
  const f = {
    id: input({ value: id || '', disabled: Boolean(id), pattern: '[A-Za-z0-9._-]{1,128}' }),
    name: input({ value: job ? job.name || '' : '' }),
    type: choose(['cron', 'interval', 'date'], t.type),
    expr: input({ value: t.expr || '', spellcheck: 'false' }),
    timezone: input({ value: t.timezone || TIMEZONE }),
    seconds: input({ type: 'number', min: '1', value: t.seconds ? String(t.seconds) : '3600' }),
    start_at: input({ value: t.start_at || '', placeholder: '2026-12-01T00:00:00Z (default: now + interval)' }),
    end_at: input({ value: t.end_at || '' }),
    run_at: input({ value: t.run_at || '', placeholder: '2026-12-01T00:00:00Z' }),
    action: choose(['noop', 'http', 'command'], a.type),
    url: input({ value: a.url || '', type: 'url' }),
    method: choose(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'], a.method || 'POST'),
    program: input({ value: a.program || '' }),
    args: el('textarea', { rows: '3' }, (a.args || []).join('\n')),
    grace: input({ type: 'number', min: '0', value: job ? String(job.misfire_grace_seconds) : '' }),
    instances: input({ type: 'number', min: '1', value: job ? String(job.max_instances) : '' }),
    jitter: input({ type: 'number', min: '0', value: job ? String(job.jitter_seconds) : '' }),
    coalesce: el('input', { type: 'checkbox', checked: job ? job.coalesce : true }),
    paused: el('input', { type: 'checkbox', checked: job ? job.paused : false }),
    within: input({ type: 'number', min: '1', value: num(e.success_within_seconds) }),
    failures: input({ type: 'number', min: '1', value: num(e.max_consecutive_failures) }),
    maxRun: input({ type: 'number', min: '1', value: num(e.max_run_seconds) }),
  };
  const words = el('p', { id: 'cron-words', class: 'hint', 'aria-live': 'polite' });
  const live = el('div', { id: 'live-preview', class: 'live-preview', 'aria-live': 'polite' });
  const status = notice('error');
  const groups = layout(f, words, live);
  let pending = null;
  const sync = () => {
    for (const [kind, node] of Object.entries(groups.trigger)) node.hidden = kind !== f.type.value;
    for (const [kind, node] of Object.entries(groups.action)) node.hidden = kind !== f.action.value;
    words.textContent = f.type.value === 'cron' ? `Reads as: ${cronWords(f.expr.value)} (${f.timezone.value})` : '';
    clearTimeout(pending);
    pending = setTimeout(() => showPreview(live, f), PREVIEW_DELAY_MS);
  };
  for (const node of [f.type, f.action, f.expr, f.timezone, f.seconds, f.start_at, f.end_at, f.run_at]) {
    node.addEventListener('input', sync);
  }
  const form = el('form', { id: 'job-form', novalidate: true, onsubmit: (e) => save(e, id, job, f, form, status) },
    status, groups.all,
    el('button', { type: 'submit', id: 'save' }, id ? 'Save' : 'Create'), ' ',
    el('a', { href: id ? `#/job/${encodeURIComponent(id)}` : '#/jobs' }, 'Cancel'));
  page(id ? `Edit job ${id}` : 'New job', form);
  sync();
  return null;
}

/// The next 5 fire times of the trigger as typed, or why the API refuses it (yet).
async function showPreview(live, f) {
  const answer = await call('POST', '/triggers/preview', { trigger: triggerBody(f), count: 5 });
  if (answer.status !== 200) {
    live.replaceChildren(el('p', { class: 'hint' }, `Not valid yet: ${problem(answer)}`));
    return;
  }
  const { times, timezone } = answer.body.data;
  live.replaceChildren(el('p', { class: 'hint' }, `Next fire times (${timezone}):`),
    el('ol', { class: 'preview' }, times.map((t) => el('li', { 'data-dst': t.dst || '' },
      utc(t.utc), ' · ', t.local, t.dst ? el('span', { class: `dst dst-${t.dst}` }, `DST ${t.dst}`) : null))));
}

function layout(f, words, live) {
  const trigger = {
    cron: el('fieldset', {}, el('legend', {}, 'Cron'),
      field('trigger.expr', 'Expression', f.expr, '5 fields (minute hour day month weekday) or 6 (seconds first)'),
      words, field('trigger.timezone', 'Timezone (IANA)', f.timezone)),
    interval: el('fieldset', {}, el('legend', {}, 'Interval'),
      field('trigger.seconds', 'Every (seconds)', f.seconds),
      field('trigger.start_at', 'Start at (RFC 3339, optional)', f.start_at),
      field('trigger.end_at', 'End at (RFC 3339, optional)', f.end_at)),
    date: el('fieldset', {}, el('legend', {}, 'Date'), field('trigger.run_at', 'Run at (RFC 3339)', f.run_at)),
  };
  const action = {
    noop: el('p', { class: 'hint' }, 'Records a run and does nothing.'),
    http: el('fieldset', {}, el('legend', {}, 'HTTP request'),
      field('action.url', 'URL', f.url), field('action.method', 'Method', f.method)),
    command: el('fieldset', {}, el('legend', {}, 'Command (no shell)'),
      field('action.program', 'Program', f.program), field('action.args', 'Arguments, one per line', f.args)),
  };
  const all = [
    field('id', 'ID (optional: generated if empty)', f.id), field('name', 'Name', f.name),
    field('trigger.type', 'Trigger', f.type), Object.values(trigger), live,
    field('action.type', 'Action', f.action), Object.values(action),
    el('details', {}, el('summary', {}, 'Misfires, concurrency, jitter'),
      field('misfire_grace_seconds', 'Misfire grace (seconds)', f.grace),
      field('max_instances', 'Max instances', f.instances),
      field('jitter_seconds', 'Jitter (seconds)', f.jitter),
      field('coalesce', 'Coalesce missed runs', f.coalesce)),
    el('details', { open: Boolean(f.within.value || f.failures.value || f.maxRun.value) },
      el('summary', {}, 'Health: what the job is expected to do'),
      field('expect.success_within_seconds', 'Late without a success for (seconds)', f.within),
      field('expect.max_consecutive_failures', 'Failing after this many failures in a row', f.failures),
      field('expect.max_run_seconds', 'Stuck when a run takes longer than (seconds)', f.maxRun)),
    field('paused', 'Create paused', f.paused),
  ];
  return { trigger, action, all };
}

/// The trigger as typed, in the API's shape.
function triggerBody(f) {
  const type = f.type.value;
  if (type === 'cron') return { type, expr: f.expr.value, timezone: f.timezone.value };
  if (type === 'date') return { type, run_at: f.run_at.value };
  const trigger = { type, seconds: Number(f.seconds.value) };
  if (f.start_at.value) trigger.start_at = f.start_at.value;
  if (f.end_at.value) trigger.end_at = f.end_at.value;
  return trigger;
}

/// What an edit keeps that the form does not show, since a PUT replaces the whole job: the
/// job's own history limits, retry policy, catch-up policy, alert webhook, cron DST policy and
/// exclusive group, and the rest of its action (headers, body, timeout) while the action's type is unchanged.
/// Header values come back redacted; the API keeps the stored value for the redaction marker.
function kept(job, actionType) {
  if (!job) return { action: {} };
  const history = job.history
    ? Object.fromEntries(Object.entries(job.history).filter(([, v]) => v !== null))
    : null;
  const action = job.action.type === actionType ? { ...job.action } : {};
  const webhook = job.expect ? job.expect.alert_webhook : null;
  const exclusive = job.exclusive_group
    ? { exclusive_group: job.exclusive_group, exclusive_policy: job.exclusive_policy }
    : null;
  return { history, action, retry: job.retry, catchUp: job.catch_up, webhook, dst: job.trigger.dst, exclusive };
}

/// The request body from the form: only what was filled in, typed as the API expects, with
/// what the edited `job` has that the form does not show.
function body(id, job, f) {
  const b = {};
  const k = kept(job, f.action.value);
  if (!id && f.id.value.trim()) b.id = f.id.value.trim();
  if (f.name.value) b.name = f.name.value;
  b.trigger = triggerBody(f);
  const action = f.action.value;
  if (action === 'noop') b.action = { type: action };
  if (action === 'http') b.action = { ...k.action, type: action, url: f.url.value, method: f.method.value };
  if (action === 'command') {
    const args = f.args.value.split('\n').filter((x) => x !== '');
    b.action = { ...k.action, type: action, program: f.program.value, args };
  }
  const numbers = [['misfire_grace_seconds', f.grace], ['max_instances', f.instances], ['jitter_seconds', f.jitter]];
  for (const [name, node] of numbers) if (node.value !== '') b[name] = Number(node.value);
  const expect = {};
  const rules = [['success_within_seconds', f.within], ['max_consecutive_failures', f.failures], ['max_run_seconds', f.maxRun]];
  for (const [name, node] of rules) if (node.value !== '') expect[name] = Number(node.value);
  if (k.webhook) expect.alert_webhook = k.webhook;
  if (Object.keys(expect).length) b.expect = expect;
  if (k.history) b.history = k.history;
  if (k.retry) b.retry = k.retry;
  if (k.catchUp) b.catch_up = k.catchUp;
  if (k.exclusive) Object.assign(b, k.exclusive);
  if (k.dst && b.trigger.type === 'cron') b.trigger.dst = k.dst;
  b.coalesce = f.coalesce.checked;
  b.paused = f.paused.checked;
  return b;
}

async function save(event, id, job, f, form, status) {
  event.preventDefault();
  for (const slot of form.querySelectorAll('.field-error')) slot.textContent = '';
  status.textContent = '';
  const answer = id
    ? await call('PUT', `/jobs/${encodeURIComponent(id)}`, body(id, job, f))
    : await call('POST', '/jobs', body(id, job, f));
  if (answer.status === 200 || answer.status === 201) {
    location.hash = `#/job/${encodeURIComponent(answer.body.data.id)}`;
    return;
  }
  const message = (answer.body.detail && answer.body.detail.message) || '';
  const slot = slotFor(form, message.split(': ')[0]);
  if (slot) {
    slot.textContent = message.slice(message.indexOf(': ') + 2);
    form.querySelector(`#${slot.id.replace(/-error$/, '')}`).focus();
  } else {
    status.textContent = problem(answer);
  }
}

/// The error slot of the longest field path the API's path starts with (`trigger.expr` for
/// `trigger.expr`, `action` for `action.headers.x`), or the trigger type for `trigger`.
function slotFor(form, path) {
  let best = null;
  for (const slot of form.querySelectorAll('.field-error')) {
    const f = slot.dataset.field;
    const hidden = slot.closest('[hidden]');
    const covers = path === f || path.startsWith(f + '.') || path.startsWith(f + '[');
    if (covers && !hidden && (!best || f.length > best.dataset.field.length)) best = slot;
  }
  if (!best && (path === 'trigger' || path === 'action')) best = form.querySelector(`[data-field="${path}.type"]`);
  return best;
}
