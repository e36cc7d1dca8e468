// The session: the token (sessionStorage), who is logged in, the API client, and the per-page state
// of navigation (a generation number, timers to clear when the page changes).
import { html, render } from "./html.js";

export const TOKEN_KEY = "kubeprobe.token";
export const TERMINAL = new Set(["succeeded", "failed", "timed_out", "error", "cancelled"]);
export const session = { me: null, generation: 0, timers: [], onUnauthorized: () => {} };

export const view = () => document.getElementById("view");
export function current(gen) { return gen === session.generation; }
export function later(fn, delay) { const t = setTimeout(fn, delay); session.timers.push(t); return t; }
export function hashParams() { return new URLSearchParams(location.hash.split("?")[1] || ""); }

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!resp.ok) {
    const detail = data && typeof data === "object" ? (data.detail ?? JSON.stringify(data)) : String(data);
    if (resp.status === 401 && !options.noLogout) session.onUnauthorized(`Log in again: ${detail}`);
    throw new ApiError(resp.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

export function showError(err) {
  return html`<div class="error-box" data-error>${err.message || err}</div>`;
}

export function renderError(err) { render(view(), showError(err)); }
