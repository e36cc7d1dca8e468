// HTML templates that escape by default. `html` is a tagged template literal: every interpolated
// value is escaped unless it is already Html (the result of `html` itself, or of `raw`); arrays
// are joined, each element by the same rule. `raw(text)` is the one way to put unescaped markup in,
// so every use is greppable. `render(element, markup)` is the one way to set innerHTML: it takes
// Html only, so a string built by hand (and maybe unescaped) is refused at once.

export class Html {
  constructor(text) { this.text = text; }
  toString() { return this.text; }
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeText(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function piece(value) {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(piece).join("");
  if (value === null || value === undefined || value === false) return "";
  return escapeText(value);
}

export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, i) => { out += piece(value) + strings[i + 1]; });
  return new Html(out);
}

// Unescaped markup: only for markup this code built itself (never for data from the API).
export function raw(text) { return new Html(String(text)); }

export function render(element, markup) {
  if (!(markup instanceof Html)) throw new TypeError("render() takes html`...`, not a string");
  element.innerHTML = markup.text;
}

export function insert(element, position, markup) {
  if (!(markup instanceof Html)) throw new TypeError("insert() takes html`...`, not a string");
  element.insertAdjacentHTML(position, markup.text);
}
