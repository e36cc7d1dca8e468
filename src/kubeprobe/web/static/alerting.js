// The incidents and silences pages (a center without alerting shows a placeholder).
import { badge, clusterLink, runLink, when } from "./format.js";
import { html, render } from "./html.js";
import { api, current, hashParams, view } from "./session.js";

async function listOrPlaceholder(path, what, gen) {
  try {
    const data = await api(path);
    if (!current(gen)) return null;
    return Array.isArray(data) ? data : (data.items || []);
  } catch (err) {
    if (!current(gen)) return null;
    if (err.status === 404 || err.status === 405) {
      render(view(), html`<h1>${what}</h1><div class="placeholder" data-placeholder>This center does not serve ${path} yet: ${what.toLowerCase()} appear here once alerting is enabled.</div>`);
      return null;
    }
    throw err;
  }
}

function incidentRow(i) {
  const where = (i.clusters || (i.cluster ? [i.cluster] : [])).map((c, k) => html`${k ? ", " : ""}${clusterLink(c)}`);
  const members = (i.members || []).slice(0, 10).map((m, k) => html`${k ? html`<br>` : ""}${m.cluster}/${m.case} ${runLink(m.run_id)}${m.failures > 1 ? ` ×${m.failures}` : ""}`);
  return html`<tr data-incident="${i.id}"><td>${badge(i.state)}${i.silenced ? html` <span class="badge">silenced</span>` : ""}${i.acked_by ? html`<div class="muted">by ${i.acked_by}</div>` : ""}</td>
      <td>${i.priority}</td><td>${i.title || i.key}${i.reason ? html`<div class="muted">${i.reason}</div>` : ""}</td>
      <td>${i.cause}${i.confidence ? ` (${Math.round(i.confidence * 100)}%)` : ""}</td>
      <td>${i.scope}: ${where}</td><td>${when(i.opened)}</td><td>${when(i.updated)}</td>
      <td>${members}</td></tr>`;
}

export async function renderIncidents(_arg, gen) {
  const state = hashParams().get("state") || "open";
  const items = await listOrPlaceholder(`/api/v1/incidents?limit=200${state === "all" ? "" : `&state=${encodeURIComponent(state)}`}`, "Incidents", gen);
  if (!items) return;
  render(view(), html`<h1>Incidents</h1>
    <div class="controls"><select id="i-state">${["open", "firing", "acknowledged", "resolved", "all"].map((s) => (s === state ? html`<option selected>${s}</option>` : html`<option>${s}</option>`))}</select>
      <span class="muted">${items.length} shown</span></div>
    ${items.length ? html`<table id="incidents"><thead><tr><th>state</th><th>priority</th><th>incident</th><th>cause</th><th>where</th><th>opened</th><th>updated</th><th>members</th></tr></thead><tbody>
    ${items.map(incidentRow)}
    </tbody></table>` : html`<p class="muted">No incidents.</p>`}`);
  document.getElementById("i-state").addEventListener("change", (ev) => {
    location.hash = `#/incidents?state=${encodeURIComponent(ev.target.value)}`;
  });
}

export async function renderSilences(_arg, gen) {
  const items = await listOrPlaceholder("/api/v1/silences", "Silences", gen);
  if (!items) return;
  const matchers = (s) => (s.matchers || []).map((m) => (typeof m === "string" ? m : `${m.name ?? m.label}${m.op ?? "="}${m.value}`)).join(", ");
  render(view(), html`<h1>Silences</h1>
    ${items.length ? html`<table id="silences"><thead><tr><th>id</th><th>in force</th><th>mode</th><th>matchers</th><th>starts</th><th>ends</th><th>schedule</th><th>comment</th><th>by</th></tr></thead><tbody>
    ${items.map((s) => html`<tr><td>${s.id}</td><td>${s.error ? html`${badge("error")}<div class="muted skipped">${s.error}</div>` : s.active ? badge("active") : html`<span class="muted">no</span>`}</td><td>${s.mode}</td><td>${matchers(s)}</td><td>${when(s.starts)}</td><td>${when(s.ends)}</td>
      <td>${s.cron || ""}${s.duration_s ? ` for ${s.duration_s} s` : ""}${s.cron ? ` (${s.timezone || "UTC"})` : ""}</td><td>${s.comment || ""}</td><td>${s.created_by || ""}</td></tr>`)}
    </tbody></table>` : html`<p class="muted">No silences.</p>`}`);
}
