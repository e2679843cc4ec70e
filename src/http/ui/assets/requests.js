// The Requests section: the request journal, newest first, each request's form parameters and
// query string on demand.

import { details, el, fill, time } from './dom.js';

/** The request ids whose parameters are shown; kept while the view reloads. */
const open = new Set();

function mono(text) {
  return el('span', { class: 'mono', text });
}

/** `name = value` lines of a parameter map, or "no parameters". */
function pairList(map, label) {
  const pairs = Object.entries(map || {});
  if (pairs.length === 0) return el('span', { class: 'empty', text: 'no parameters' });
  return el('ul', { class: 'plain pairs', 'aria-label': label },
    pairs.map(([name, value]) => el('li', { class: 'mono', text: `${name} = ${value}` })));
}

function parameters(r) {
  return details([
    ['Form parameters', pairList(r.params, `Form parameters of ${r.request_id}`)],
    ['Query string', pairList(r.query, `Query string of ${r.request_id}`)],
  ]);
}

/** A request's row and the row under it that shows its parameters when opened. */
function requestRows(r) {
  const id = `params-${r.request_id}`;
  const shown = open.has(r.request_id);
  const cell = el('td', { colspan: 7 }, shown ? parameters(r) : null);
  const panel = el('tr', { id, class: 'request-params', hidden: !shown }, cell);
  const toggle = el('button', {
    type: 'button',
    class: 'params-toggle',
    'data-request-id': r.request_id,
    'aria-expanded': String(shown),
    'aria-controls': id,
    'aria-label': `Parameters of ${r.request_id}`,
    text: 'Parameters',
    onclick: () => {
      const now = !open.has(r.request_id);
      if (now) open.add(r.request_id); else open.delete(r.request_id);
      toggle.setAttribute('aria-expanded', String(now));
      panel.hidden = !now;
      fill(cell, now ? parameters(r) : null);
    },
  });
  const code = r.error_code === null || r.error_code === undefined ? '—' : String(r.error_code);
  return [
    el('tr', { 'data-request-id': r.request_id },
      el('td', {}, time(r.at)),
      el('td', { class: 'short', text: r.method }),
      el('td', {}, mono(r.path)),
      el('td', { class: 'short', text: String(r.status) }),
      el('td', { class: 'short', text: code }),
      el('td', {}, mono(r.request_id)),
      el('td', {}, toggle)),
    panel,
  ];
}

/** The Twilio API requests, newest first. A parameters button that had the focus keeps it
 * when the view reloads. */
export function renderRequests(requests, filter) {
  const shown = requests.filter((r) => !filter || r.account_sid === filter);
  const ids = new Set(shown.map((r) => r.request_id));
  for (const id of open) if (!ids.has(id)) open.delete(id);
  const list = document.getElementById('requests-list');
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.requestId : null;
  fill(list, shown.flatMap(requestRows));
  if (focused) {
    [...list.querySelectorAll('.params-toggle')].find((b) => b.dataset.requestId === focused)?.focus();
  }
}
