// The inspector: loads each view from the control API, then keeps it live from the event
// stream (no polling, no reloads).

import { ApiError, control, setToken, stream, token } from './api.js';
import { el, fill, showError } from './dom.js';
import { renderCalls, tickCountdowns } from './calls.js';
import { renderRequests } from './requests.js';
import { patchCallerId, renderAccounts, renderCallbacks, renderCallerIds } from './views.js';

const state = {
  filter: '',
  accounts: [],
  keys: new Map(),
  calls: new Map(),
  callerIds: new Map(),
  callbacks: [],
  requests: [],
};
let source = null;
const $ = (id) => document.getElementById(id);

function live(text) {
  $('live').textContent = text;
}

function renderAll() {
  renderCalls(state.calls, state.filter);
  renderCallerIds(state.callerIds, state.accounts, state.filter, afterCallerIdChange);
  renderCallbacks(state.callbacks, state.filter);
  renderRequests(state.requests, state.filter);
  renderAccounts(state.accounts.filter((a) => !state.filter || a.sid === state.filter), state.keys, loadAccounts, loadKeys);
}

function accountOptions() {
  const options = state.accounts.map((a) => el('option', { value: a.sid, text: `${a.sid} ${a.friendly_name}` }));
  for (const select of document.querySelectorAll('.account-select')) {
    const keep = select.value;
    fill(select, options.map((o) => o.cloneNode(true)));
    if (keep) select.value = keep;
    if (state.filter) select.value = state.filter;
  }
  const filter = $('account-filter');
  fill(filter, el('option', { value: '', text: 'All accounts' }), options);
  filter.value = state.filter;
}

async function loadAccounts() {
  state.accounts = (await control('GET', '/_emulator/accounts')).accounts;
  accountOptions();
  await loadCallerIdsAll();
}

async function loadCallerIds(account) {
  const { outgoing_caller_ids: rows, has_more: more } = await control('GET', `/_emulator/accounts/${account}/outgoing-caller-ids`);
  state.callerIds.set(account, { rows, more });
}

async function loadKeys(account) {
  const { keys } = await control('GET', `/_emulator/accounts/${account}/keys`);
  state.keys.set(account, keys);
  return keys;
}

async function loadCallerIdsAll() {
  state.callerIds.clear();
  state.keys.clear();
  await Promise.all(state.accounts.flatMap((a) => [
    loadCallerIds(a.sid).catch(() => {}),
    loadKeys(a.sid).catch(() => {}),
  ]));
  renderAll();
}

/** After a rename or delete on the page: the event stream brings the change; without it
 * (disconnected), the next `ready` reloads everything. */
function afterCallerIdChange() {}

async function loadCall(sid) {
  state.calls.set(sid, await control('GET', `/_emulator/calls/${sid}`));
  renderCalls(state.calls, state.filter);
}

async function loadCallbacks() {
  state.callbacks = (await control('GET', '/_emulator/callbacks?limit=100')).callbacks;
  renderCallbacks(state.callbacks, state.filter);
}

async function loadRequests() {
  state.requests = (await control('GET', '/_emulator/requests?limit=100')).requests;
  renderRequests(state.requests, state.filter);
}

async function loadEverything() {
  await loadAccounts();
  const { calls } = await control('GET', '/_emulator/calls?limit=100');
  state.calls = new Map(calls.map((c) => [c.sid, c]));
  await Promise.all([loadCallbacks(), loadRequests()]);
  renderAll();
}

/** Runs `work` at most once per `ms`, after the last call. */
function debounce(work, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => { work().catch(report); }, ms);
  };
}

function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    askForToken('The control token was refused.');
  } else {
    live(`Error: ${error.message || error}`);
  }
}

const requestsSoon = debounce(loadRequests, 100);
const callbacksSoon = debounce(loadCallbacks, 50);
const accountsSoon = debounce(loadAccounts, 50);

function connect() {
  if (source) source.close();
  live('Connecting…');
  source = stream(state.filter);
  const on = (name, handle) => source.addEventListener(name, (event) => {
    try {
      handle(JSON.parse(event.data));
    } catch (error) {
      report(error);
    }
  });
  let first = true;
  on('ready', () => {
    live('Live');
    // After a reconnect, events may have been missed: load again.
    if (!first) loadEverything().catch(report);
    first = false;
  });
  on('call.step', (d) => { loadCall(d.call_sid).catch(report); });
  for (const kind of ['created', 'renamed', 'deleted']) {
    on(`caller_id.${kind}`, (d) => {
      if (!patchCallerId(kind, d, state.callerIds, state.accounts, afterCallerIdChange)) {
        loadCallerIds(d.account_sid).then(renderAll).catch(report);
      }
    });
  }
  on('callback.attempted', () => callbacksSoon());
  on('request.journalled', () => requestsSoon());
  on('requests.skipped', () => requestsSoon());
  on('account.created', () => accountsSoon());
  on('account.deleted', () => accountsSoon());
  on('reset', () => { loadEverything().catch(report); });
  on('resync', () => { live('Live (resynchronised)'); loadEverything().catch(report); });
  source.onerror = () => live('Disconnected; reconnecting…');
}

function askForToken(message) {
  if (source) source.close();
  $('token-form').hidden = false;
  $('token-error').textContent = message || '';
  live('Waiting for the control token');
  $('token-input').focus();
}

async function start() {
  try {
    await loadEverything();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      askForToken(token() ? 'The control token was refused.' : '');
      return;
    }
    throw error;
  }
  $('token-form').hidden = true;
  connect();
}

function formAction(id, work) {
  const form = $(id);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(form, null);
    try {
      await work(new FormData(form), form);
    } catch (error) {
      showError(form, error);
    }
  });
}

formAction('token-form', async (data) => {
  setToken($('token-input').value);
  await start();
});
formAction('add-caller-id', async (data) => {
  const body = { phone_number: data.get('phone_number') };
  if (data.get('friendly_name')) body.friendly_name = data.get('friendly_name');
  await control('POST', `/_emulator/accounts/${data.get('account')}/outgoing-caller-ids`, body);
});
formAction('set-behavior', async (data, form) => {
  const phone = encodeURIComponent(data.get('phone'));
  const set = await control('PUT', `/_emulator/accounts/${data.get('account')}/phones/${phone}`, { behavior: data.get('behavior') });
  form.querySelector('.note').textContent = `${set.phone_number} now behaves as ${set.behavior}`;
});
formAction('create-account', async (data) => {
  const body = {};
  if (data.get('friendly_name')) body.friendly_name = data.get('friendly_name');
  await control('POST', '/_emulator/accounts', body);
  await loadAccounts();
});
$('account-filter').addEventListener('change', (event) => {
  state.filter = event.target.value;
  accountOptions();
  renderAll();
  connect();
});
setInterval(tickCountdowns, 1000);
start().catch(report);
