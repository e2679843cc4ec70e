// The control API and the event stream, with the control token when one is needed.

const TOKEN_KEY = 'callerid-emulator-control-token';

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

/** An error from the API, with Twilio's message when the body has one. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function fail(response) {
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.message) message = `${body.message} (HTTP ${response.status})`;
  } catch (_) { /* not JSON */ }
  return new ApiError(response.status, message);
}

/** A control-API call: JSON in and out; throws ApiError. */
export async function control(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await fail(response);
  if (response.status === 204) return null;
  return response.json();
}

/** A Twilio API call made as `account` (its sid and auth token), form-encoded. */
export async function twilio(account, method, path, form) {
  const headers = {
    Accept: 'application/json',
    Authorization: `Basic ${btoa(`${account.sid}:${account.auth_token}`)}`,
  };
  let body;
  if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const url = `/2010-04-01/Accounts/${encodeURIComponent(account.sid)}${path}`;
  const response = await fetch(url, { method, headers, body });
  if (!response.ok) throw await fail(response);
  if (response.status === 204) return null;
  return response.json();
}

/** The event stream, for one account or all; EventSource sends no headers, so `?token=`. */
export function stream(accountSid) {
  const params = new URLSearchParams();
  if (accountSid) params.set('account_sid', accountSid);
  const t = token();
  if (t) params.set('token', t);
  const query = params.toString();
  return new EventSource(`/_emulator/events${query ? `?${query}` : ''}`);
}
