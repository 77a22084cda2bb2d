// Login: the key is checked with GET /auth/me and, if valid, kept in sessionStorage (gone
// when the tab closes; never in a URL or a cookie, so no other site can make the browser use it).

import { call, remember } from './api.js';
import { el, page, notice } from './dom.js';

export function loginPage() {
  const input = el('input', { id: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const status = notice('error');
  const form = el('form', { class: 'login', onsubmit: (e) => submit(e, input, status) },
    el('label', { for: 'api-key' }, 'API key'),
    input,
    el('button', { type: 'submit', id: 'login-submit' }, 'Log in'),
    el('p', { class: 'hint' }, 'The key stays in this tab only (session storage) and is sent in the X-API-Key header.'),
    status);
  page('Log in', form);
  input.focus();
  return null;
}

async function submit(event, input, status) {
  event.preventDefault();
  status.textContent = '';
  const key = input.value.trim();
  const answer = await call('GET', '/auth/me', undefined, { key });
  if (answer.status !== 200) {
    status.textContent = answer.status === 401 ? 'That key is not valid.' : `Login failed (HTTP ${answer.status}).`;
    return;
  }
  remember(key, answer.body.data);
  const target = answer.body.data.role === 'monitor' ? '#/health' : '#/jobs';
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}
