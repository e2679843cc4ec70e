// The Caller IDs, Callbacks and Accounts sections.

import { control, twilio } from './api.js';
import { badge, details, el, fill, showError, time } from './dom.js';

function mono(text) {
  return el('span', { class: 'mono', text });
}

function callerIdRow(row, account, onChange) {
  const error = el('p', { class: 'error', role: 'alert' });
  const name = el('input', { value: row.friendly_name, 'aria-label': `Friendly name of ${row.phone_number}` });
  const path = `/OutgoingCallerIds/${encodeURIComponent(row.sid)}.json`;
  const act = (work) => async (event) => {
    event.preventDefault();
    try {
      await work();
      error.textContent = '';
      onChange();
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const rename = act(() => twilio(account, 'POST', path, { FriendlyName: name.value }));
  const remove = act(() => twilio(account, 'DELETE', path));
  return el('li', { class: 'card', 'data-caller-id-sid': row.sid },
    el('h3', {}, mono(row.phone_number), ' ', el('span', { class: 'friendly-name', text: row.friendly_name })),
    details([['Sid', mono(row.sid)], ['Created', time(row.date_created)], ['Updated', time(row.date_updated)]]),
    el('form', { class: 'inline', onsubmit: rename },
      name,
      el('button', { type: 'submit', text: 'Rename' }),
      el('button', { type: 'button', onclick: remove, text: `Delete ${row.phone_number}` })),
    error);
}

function callerIdBlock(account, entry, onChange) {
  const { rows, more } = entry || { rows: [], more: false };
  return el('div', { 'data-account': account.sid },
    el('h3', {}, 'Account ', mono(account.sid), ` — ${account.friendly_name}`),
    rows.length === 0
      ? el('p', { class: 'empty', text: 'No caller IDs.' })
      : el('ul', { class: 'plain' }, rows.map((row) => callerIdRow(row, account, onChange))),
    more ? el('p', { class: 'note', text: `The first ${rows.length} caller IDs, in sid order; the Twilio API lists them all.` }) : null);
}

/** Caller IDs of each shown account. */
export function renderCallerIds(byAccount, accounts, filter, onChange) {
  const blocks = accounts
    .filter((a) => !filter || a.sid === filter)
    .map((account) => callerIdBlock(account, byAccount.get(account.sid), onChange));
  fill(document.getElementById('caller-ids-list'), blocks);
}

/**
 * Applies one `caller_id.created` / `renamed` / `deleted` event (`kind`) to the loaded rows and
 * to the shown list, touching only that row, so that a change costs the same with 1,000 rows
 * as with one. False when the account's rows are not loaded (the caller reloads them).
 */
export function patchCallerId(kind, data, byAccount, accounts, onChange) {
  const entry = byAccount.get(data.account_sid);
  const account = accounts.find((a) => a.sid === data.account_sid);
  if (!entry || !account) return false;
  const { rows } = entry;
  const at = rows.findIndex((r) => r.sid === data.sid);
  const after = rows.findIndex((r) => r.sid > data.sid);
  if (kind === 'deleted') {
    if (at >= 0) rows.splice(at, 1);
  } else if (at >= 0) {
    rows[at] = data;
  } else if (after >= 0) {
    rows.splice(after, 0, data);
  } else if (!entry.more) {
    rows.push(data);
  } else {
    return true; // past the rows shown
  }
  const block = document.querySelector(`#caller-ids-list [data-account="${data.account_sid}"]`);
  if (!block) return true; // filtered out: the rows are up to date for later
  const list = block.querySelector('ul');
  const old = list && [...list.children].find((li) => li.dataset.callerIdSid === data.sid);
  if (!list || rows.length === 0) {
    block.replaceWith(callerIdBlock(account, entry, onChange));
  } else if (kind === 'deleted') {
    old?.remove();
  } else if (old) {
    old.replaceWith(callerIdRow(data, account, onChange));
  } else {
    const next = [...list.children].find((li) => li.dataset.callerIdSid > data.sid);
    list.insertBefore(callerIdRow(data, account, onChange), next || null);
  }
  return true;
}

function attemptItem(a) {
  const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
  return el('li', {},
    `Attempt ${a.attempt}: `, time(a.at), ' ',
    badge(a.status_code === null ? 'no response' : `HTTP ${a.status_code}`, ok ? 'ok' : 'bad'),
    ` ${a.latency_ms} ms`, a.error ? ` — ${a.error}` : '',
    el('br'), 'X-Twilio-Signature: ', mono(a.signature));
}

/** The StatusCallbacks, newest first, with their attempts. */
export function renderCallbacks(callbacks, filter) {
  const shown = callbacks.filter((c) => !filter || c.account_sid === filter);
  document.getElementById('callbacks-empty').hidden = shown.length > 0;
  fill(document.getElementById('callbacks-list'), shown.map((cb) => {
    const kind = cb.state === 'delivered' ? 'ok' : cb.state === 'failed' ? 'bad' : 'wait';
    return el('article', { class: 'card', 'data-call-sid': cb.call_sid, 'aria-label': `Callback of ${cb.call_sid}` },
      el('h3', {}, `${cb.method} `, mono(cb.url), ' ', badge(cb.state, kind)),
      details([
        ['Call', mono(cb.call_sid)],
        ['Account', mono(cb.account_sid)],
        ['Queued', time(cb.created_at)],
        ['Parameters', el('table', {}, el('tbody', {},
          Object.entries(cb.params).map(([k, v]) => el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { text: v })))))],
      ]),
      el('ol', { 'aria-label': 'Attempts' }, cb.attempts.map(attemptItem)));
  }));
}

// An account's API keys, without secrets (the list never has them).
function keyItems(keys) {
  if (!keys || keys.length === 0) return [el('li', { class: 'note', text: 'No API keys' })];
  return keys.map((k) => el('li', { 'data-key': k.sid }, mono(k.sid), ` ${k.friendly_name} `, time(k.date_created)));
}

/** The accounts with their API keys, key creation and deletion. */
export function renderAccounts(accounts, keys, onChange, loadKeys) {
  fill(document.getElementById('accounts-list'), accounts.map((account) => {
    const error = el('p', { class: 'error', role: 'alert' });
    const keyOut = el('p', { class: 'note', role: 'status' });
    const keyList = el('ul', { class: 'keys', 'aria-label': `API keys of ${account.sid}` }, keyItems(keys.get(account.sid)));
    const newKey = async () => {
      try {
        const key = await control('POST', `/_emulator/accounts/${account.sid}/keys`, { friendly_name: 'inspector' });
        keyOut.textContent = `New API key ${key.sid}, secret ${key.secret} (shown once)`;
        error.textContent = '';
        fill(keyList, keyItems(await loadKeys(account.sid)));
      } catch (e) { error.textContent = e.message; }
    };
    const remove = async () => {
      try {
        await control('DELETE', `/_emulator/accounts/${account.sid}`);
        onChange();
      } catch (e) { error.textContent = e.message; }
    };
    return el('article', { class: 'card', 'data-account': account.sid },
      el('h3', {}, mono(account.sid), ` ${account.friendly_name}`, account.configured ? badge('configured', '') : ''),
      details([['Auth token', mono(account.auth_token)], ['Created', time(account.date_created)]]),
      keyList,
      el('div', { class: 'row-actions' },
        el('button', { type: 'button', onclick: newKey, text: 'Create API key' }),
        account.configured ? null : el('button', { type: 'button', onclick: remove, text: `Delete account ${account.sid}` })),
      keyOut, error);
  }));
}

export { showError };
