// The remediations page (state, action, target, the defender's decision and why; approve or deny
// for operators) and one remediation (its plan, problems, freezes and the defender's audit).
// Both refresh while something is still going.
import { badge, clusterLink, when } from "./format.js";
import { html, render } from "./html.js";
import { api, current, hashParams, later, session, view } from "./session.js";

const STATES = ["all", "awaiting-approval", "approved", "running", "verified", "failed", "unverified", "denied", "shadow", "precondition", "error"];
const GOING = new Set(["awaiting-approval", "approved", "running"]);

function at(epoch) { return epoch ? when(new Date(epoch * 1000).toISOString()) : "—"; }
function target(r) { return `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`; }
function mayDecide() { return ["operator", "admin"].includes(session.me && session.me.role); }

function reasons(r) {
  const res = r.result || {};
  return [...(res.denials || []), ...(res.problems || []).map((p) => `precondition: ${p}`), res.error || ""].filter(Boolean);
}

function decision(r) {
  const res = r.result || {};
  if (res.allowed === undefined) return html`<span class="muted">not asked yet</span>`;
  return res.allowed ? html`<span class="badge allowed">allowed</span>` : html`<span class="badge denied">denied</span>`;
}

function row(r) {
  const why = reasons(r);
  return html`<tr data-remediation="${r.id}" data-state="${r.state}"><td><a href="#/remediation/${r.id}">#${r.id}</a></td><td>${badge(r.state)}</td>
    <td>${r.action}</td><td>${target(r)}</td><td>${clusterLink(r.cluster)}</td><td>${r.mode}</td>
    <td class="decision">${decision(r)}${why.length ? html`<div class="muted reason">${why.join("; ")}</div>` : ""}</td>
    <td>${r.incident_id ? `#${r.incident_id}` : "—"}</td><td>${r.policy || r.proposed_by}</td><td>${r.approver || "—"}</td><td>${at(r.updated)}</td>
    <td>${r.state === "awaiting-approval" && mayDecide() ? html`<button class="approve" data-id="${r.id}">Approve</button> <button class="deny secondary" data-id="${r.id}">Deny</button>` : ""}</td></tr>`;
}

function wireDecisions(route) {
  for (const button of document.querySelectorAll("button.approve, button.deny")) {
    button.addEventListener("click", async () => {
      const verb = button.classList.contains("approve") ? "approve" : "deny";
      button.disabled = true;
      await api(`/api/v1/remediations/${encodeURIComponent(button.dataset.id)}/${verb}`, { method: "POST" });
      route();
    });
  }
}

export async function renderRemediations(_arg, gen, route) {
  const state = hashParams().get("state") || "all";
  const items = await api(`/api/v1/remediations?limit=200${state === "all" ? "" : `&state=${encodeURIComponent(state)}`}`);
  if (!current(gen)) return;
  render(view(), html`<h1>Remediations</h1>
    <div class="controls"><select id="r-state">${STATES.map((s) => (s === state ? html`<option selected>${s}</option>` : html`<option>${s}</option>`))}</select>
      <span class="muted">${items.length} shown</span></div>
    ${items.length ? html`<table id="remediations"><thead><tr><th>id</th><th>state</th><th>action</th><th>target</th><th>cluster</th><th>mode</th><th>defender</th><th>incident</th><th>policy</th><th>approver</th><th>updated</th><th></th></tr></thead><tbody>
    ${items.map(row)}
    </tbody></table>` : html`<p class="muted">No remediations.</p>`}`);
  document.getElementById("r-state").addEventListener("change", (ev) => {
    location.hash = `#/remediations?state=${encodeURIComponent(ev.target.value)}`;
  });
  wireDecisions(route);
  if (items.some((r) => GOING.has(r.state))) later(() => { if (location.hash.startsWith("#/remediations")) route(); }, 3000);
}

function lines(id, items) {
  return items && items.length ? html`<ul id="${id}">${items.map((l) => html`<li>${l}</li>`)}</ul>` : html`<p class="muted" id="${id}">none</p>`;
}

function auditRow(a) {
  const counters = Object.entries(a.counters || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  return html`<tr data-event="${a.event}"><td>${a.seq}</td><td>${at(a.at)}</td><td>${a.event}</td><td>${a.outcome || "—"}</td>
    <td>${a.approver || "—"}</td><td>${(a.denials || []).join("; ")}</td><td class="muted">${counters}</td><td>${a.detail || ""}</td></tr>`;
}

export async function renderRemediation(id, gen, route) {
  const q = encodeURIComponent(id);
  const [r, audit] = await Promise.all([api(`/api/v1/remediations/${q}`), api(`/api/v1/remediations/${q}/audit`)]);
  if (!current(gen)) return;
  const res = r.result || {};
  render(view(), html`<h1>Remediation #${r.id} ${badge(r.state)}</h1>
    <dl class="kv"><dt>action</dt><dd>${r.action}</dd><dt>target</dt><dd>${target(r)}</dd><dt>cluster</dt><dd>${clusterLink(r.cluster)}</dd>
      <dt>mode</dt><dd>${r.mode}</dd><dt>policy</dt><dd>${r.policy ? `${r.policy} v${r.policy_version}, step ${r.step + 1}` : "—"}</dd>
      <dt>incident</dt><dd>${r.incident_id ? `#${r.incident_id}` : "—"}</dd><dt>proposed by</dt><dd>${r.proposed_by}</dd>
      <dt>approver</dt><dd>${r.approver || "—"}</dd><dt>created</dt><dd>${at(r.created)}</dd><dt>updated</dt><dd>${at(r.updated)}</dd>
      <dt>defender</dt><dd class="decision">${decision(r)}</dd></dl>
    ${r.state === "awaiting-approval" && mayDecide() ? html`<p><button class="approve" data-id="${r.id}">Approve</button> <button class="deny secondary" data-id="${r.id}">Deny</button></p>` : ""}
    <h2>Plan</h2>${lines("plan", res.plan)}
    <h2>Why not</h2>${lines("reasons", reasons(r))}
    ${(res.freezes || []).length ? html`<h2>Freezes</h2>${lines("freezes", res.freezes)}` : ""}
    <h2>Audit</h2>${audit.length ? html`<table id="audit"><thead><tr><th>seq</th><th>at</th><th>event</th><th>outcome</th><th>approver</th><th>denials</th><th>counters</th><th>detail</th></tr></thead><tbody>
      ${audit.map(auditRow)}</tbody></table>` : html`<p class="muted" id="audit">the defender has not been asked yet</p>`}`);
  wireDecisions(route);
  if (GOING.has(r.state)) later(() => { if (location.hash === `#/remediation/${id}`) route(); }, 2000);
}
