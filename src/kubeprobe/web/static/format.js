// Small pieces of markup and text shared by the pages: state badges, times, durations, links.
import { html } from "./html.js";

export function badge(state) { return html`<span class="badge ${state}">${state ?? "—"}</span>`; }
export function when(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
export function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
export function pct(value) { return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`; }
export function runLink(id) {
  return id ? html`<a href="#/run/${encodeURIComponent(id)}">${id.slice(0, 8)}</a>` : "—";
}
export function clusterLink(name) { return html`<a href="#/cluster/${encodeURIComponent(name)}">${name}</a>`; }

export function runsTable(items) {
  return html`<table class="runs"><thead><tr><th>run</th><th>case</th><th>cluster</th><th>trigger</th><th>state</th><th>created</th><th>duration</th><th>message</th></tr></thead><tbody>
    ${items.map((r) => html`<tr><td>${runLink(r.id)}</td><td>${r.case}</td><td>${clusterLink(r.cluster)}</td><td>${r.trigger}</td>
      <td>${badge(r.state)}</td><td>${when(r.created)}</td><td>${ms(r.duration_ms)}</td><td>${(r.messages || [])[0] || ""}</td></tr>`)}
  </tbody></table>`;
}
