// Building the page from data: every value is set as text, never parsed as HTML.

/** An element with attributes (`on…` functions become listeners) and children (strings
 * become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'text') {
      node.textContent = String(value);
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return node;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

/** An RFC 2822 date of the Unix seconds or milliseconds given, in UTC. */
export function rfc2822(date) {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n) => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} `
    + `${date.getUTCFullYear()} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:`
    + `${two(date.getUTCSeconds())} +0000`;
}

/** A `<time>` in local time, with the RFC 2822 value in its title. */
export function time(value) {
  if (!value) return el('span', { text: '—' });
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return el('span', { text: String(value) });
  return el('time', {
    datetime: date.toISOString(),
    title: rfc2822(date),
    text: date.toLocaleString(),
  });
}

/** A status in words, with a class for its colour. */
export function badge(word, kind) {
  return el('span', { class: `badge ${kind || ''}`, text: word });
}

/** A term/definition list from [term, value] pairs. */
export function details(pairs) {
  return el('dl', {}, pairs.flatMap(([term, value]) => [
    el('dt', { text: term }),
    el('dd', {}, typeof value === 'string' || typeof value === 'number' ? String(value) : value),
  ]));
}

/** Shows `error` (or clears it) in the form's error line. */
export function showError(form, error) {
  const line = form.querySelector('.error');
  if (line) line.textContent = error ? error.message || String(error) : '';
}
