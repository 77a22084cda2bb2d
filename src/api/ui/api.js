// The one door to the server: every call carries the key from sessionStorage in `X-API-Key`
// (never in a URL, never in a cookie) and answers {status, body}; the API's error envelope
// {"detail":{"code","message"}} is passed through for the caller to show.

const KEY = 'schedlite.apiKey';
const ROLE = 'schedlite.role';
export const PREFIX = '/api/v1alpha1';

export function session() {
  const key = sessionStorage.getItem(KEY);
  return key ? { key, role: sessionStorage.getItem(ROLE) || '', name: sessionStorage.getItem('schedlite.name') || '' } : null;
}

export function remember(key, me) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(ROLE, me.role);
  sessionStorage.setItem('schedlite.name', me.name);
}

export function forget() {
  sessionStorage.clear();
}

/// Calls the API at PREFIX + path (or an absolute path such as /healthz when `raw`).
export async function call(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const key = options.key || sessionStorage.getItem(KEY);
  if (key) headers['X-API-Key'] = key;
  const init = { method, headers, credentials: 'omit', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(options.raw ? path : PREFIX + path, init);
  } catch (e) {
    return { status: 0, body: { detail: { code: 'NETWORK', message: 'the server did not answer: ' + e.message } } };
  }
  const text = await response.text();
  let parsed = text;
  try { parsed = JSON.parse(text); } catch { /* text bodies: metrics */ }
  if (response.status === 401 && !options.key) {
    forget();
    location.hash = '#/login';
  }
  return { status: response.status, body: parsed };
}

export const get = (path, options) => call('GET', path, undefined, options);

/// The message of an error answer, for people.
export function problem(answer) {
  const detail = answer.body && answer.body.detail;
  if (detail && detail.message) return `${detail.code}: ${detail.message}`;
  return `HTTP ${answer.status}`;
}

/// Query string from an object, skipping empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
