// The Calls section: each verification call as a card, with a keypad while it waits for digits.

import { control } from './api.js';
import { badge, details, el, fill, time } from './dom.js';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const ENDED_BAD = new Set(['busy', 'no-answer', 'canceled', 'failed']);

/** What each waiting call has keyed on the page so far, by CallSid. */
const keyed = new Map();

function statusKind(status) {
  if (status === 'completed') return 'ok';
  if (ENDED_BAD.has(status)) return 'bad';
  return 'wait';
}

function verificationBadge(value) {
  if (!value) return badge('verification pending', 'wait');
  return badge(`verification ${value}`, value === 'success' ? 'ok' : 'bad');
}

/** "in 3 s" until `at`, or "now". */
export function countdown(at) {
  const ms = new Date(at).getTime() - Date.now();
  if (Number.isNaN(ms)) return '';
  return ms <= 0 ? 'due now' : `in ${Math.ceil(ms / 1000)} s`;
}

function nextStep(call) {
  if (!call.next_action_at) return el('span', { text: 'none (the call has ended)' });
  return el('span', {},
    el('span', { 'data-due': call.next_action_at, text: countdown(call.next_action_at) }),
    ' (', time(call.next_action_at), ')');
}

function timeline(call) {
  return el('ol', { class: 'timeline', 'aria-label': 'Timeline' },
    call.timeline.map((step) => el('li', {},
      time(step.at), ' ', el('strong', { text: step.status }),
      step.note ? ` — ${step.note}` : '')));
}

function keypad(call, onError) {
  const sid = call.sid;
  const shown = el('output', { class: 'mono', 'aria-label': 'Digits keyed', text: keyed.get(sid) || '' });
  const press = (key) => {
    keyed.set(sid, (keyed.get(sid) || '') + key);
    shown.textContent = keyed.get(sid);
  };
  const submit = async () => {
    const digits = keyed.get(sid) || '';
    if (!digits) return;
    try {
      await control('POST', `/_emulator/calls/${encodeURIComponent(sid)}/digits`, { digits });
      keyed.delete(sid);
      onError(null);
    } catch (error) {
      onError(error);
    }
  };
  return el('div', { role: 'group', 'aria-label': `Keypad for ${call.to}` },
    el('div', { class: 'keypad' },
      KEYS.map((key) => el('button', { type: 'button', onclick: () => press(key), text: key }))),
    el('p', {}, 'Keyed: ', shown),
    el('div', { class: 'row-actions' },
      el('button', { type: 'button', onclick: submit, text: 'Send digits' }),
      el('button', {
        type: 'button',
        onclick: () => { keyed.delete(sid); shown.textContent = ''; },
        text: 'Clear',
      })));
}

/** One call's card. */
export function callCard(call) {
  const error = el('p', { class: 'error', role: 'alert' });
  const onError = (e) => { error.textContent = e ? e.message : ''; };
  const waiting = call.behavior === 'manual' && call.status === 'in-progress';
  return el('article', { class: 'card', 'data-call-sid': call.sid, 'aria-label': `Call to ${call.to}` },
    el('h3', {}, el('span', { class: 'mono', text: call.to }), ' ',
      badge(call.status, statusKind(call.status)), ' ',
      verificationBadge(call.verification_status)),
    details([
      ['Call', el('span', { class: 'mono', text: call.sid })],
      ['Account', el('span', { class: 'mono', text: call.account_sid })],
      ['Friendly name', call.friendly_name],
      ['Validation code', el('span', { class: 'mono', text: call.validation_code })],
      ['Callee behaviour', call.behavior],
      ['Digits keyed', call.digits === null || call.digits === undefined ? 'none' : call.digits],
      ['Next step', nextStep(call)],
      ['StatusCallback', call.status_callback || 'none'],
    ]),
    waiting ? keypad(call, onError) : null,
    error,
    timeline(call));
}

/** The calls section: cards newest first, filtered by account. */
export function renderCalls(calls, account) {
  const list = document.getElementById('calls-list');
  const shown = [...calls.values()]
    .filter((c) => !account || c.account_sid === account)
    .sort((a, b) => (a.timeline[0]?.at < b.timeline[0]?.at ? 1 : -1));
  document.getElementById('calls-empty').hidden = shown.length > 0;
  // An unchanged call keeps its card, so a keypad keeps its focus while others change.
  fill(list, shown.map((call) => {
    const text = JSON.stringify(call);
    const cached = cards.get(call.sid);
    if (cached && cached.text === text) return cached.node;
    const node = callCard(call);
    cards.set(call.sid, { text, node });
    return node;
  }));
}

/** The card last rendered for each call, with the data it shows. */
const cards = new Map();

/** Refreshes every countdown each second (from the clock, no requests). */
export function tickCountdowns() {
  for (const node of document.querySelectorAll('[data-due]')) {
    node.textContent = countdown(node.getAttribute('data-due'));
  }
}
