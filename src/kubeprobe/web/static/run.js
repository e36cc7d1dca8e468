// The run page: what ran where, its root cause (analysis), messages, steps as bars, findings,
// metrics, the runner's logs and events. Refreshes until the run ended and its analysis is done.
import { badge, clusterLink, ms, when } from "./format.js";
import { html, render } from "./html.js";
import { TERMINAL, api, current, later, view } from "./session.js";

export async function renderRun(id, gen, route) {
  const q = encodeURIComponent(id);
  const run = await api(`/api/v1/runs/${q}`);
  let analysis = null;
  try { analysis = await api(`/api/v1/runs/${q}/analysis`); } catch (err) { if (err.status === 401) return; }
  if (!current(gen)) return;
  const runner = (run.details || {}).runner || {};
  const total = Math.max(1, ...run.steps.map((s) => s.duration_ms));
  render(view(), html`
    <h1>Run ${run.id} ${badge(run.state)}</h1>
    <dl class="kv"><dt>case</dt><dd>${run.case}</dd><dt>cluster</dt><dd>${clusterLink(run.cluster)}</dd>
      <dt>trigger</dt><dd>${run.trigger}${run.binding ? ` (binding ${run.binding})` : ""}</dd>
      <dt>created</dt><dd>${when(run.created)}</dd><dt>started</dt><dd>${when(run.started)}</dd>
      <dt>finished</dt><dd>${when(run.finished)}</dd><dt>duration</dt><dd>${ms(run.duration_ms)}</dd></dl>
    <h2>Root cause</h2><div id="analysis" class="panel">${analysisHtml(analysis, run)}</div>
    <h2>Messages</h2>${run.messages.length ? html`<ul id="messages">${run.messages.map((m) => html`<li>${m}</li>`)}</ul>` : html`<p class="muted">none</p>`}
    <h2>Steps</h2>
    ${run.steps.length ? html`<table class="steps" id="steps"><thead><tr><th>step</th><th>ok</th><th>duration</th><th style="width:40%"></th><th>error</th></tr></thead><tbody>
      ${run.steps.map((s) => html`<tr><td>${s.name}</td><td>${s.ok ? "✓" : "✗"}</td><td>${ms(s.duration_ms)}</td>
        <td><div class="bar${s.ok ? "" : " bad"}" style="width:${((100 * s.duration_ms) / total).toFixed(1)}%"></div></td><td>${s.error || ""}</td></tr>`)}
    </tbody></table>` : html`<p class="muted">no steps reported</p>`}
    ${run.findings.length ? html`<h2>Findings</h2><table><thead><tr><th>severity</th><th>check</th><th>message</th></tr></thead><tbody>
      ${run.findings.map((f) => html`<tr><td>${badge(f.severity)}</td><td>${f.check_id}</td><td>${f.message}</td></tr>`)}</tbody></table>` : ""}
    ${Object.keys(run.metrics || {}).length ? html`<h2>Metrics</h2><dl class="kv">${Object.entries(run.metrics).map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>` : ""}
    <h2>Logs</h2>${runner.logs ? html`<pre id="logs">${runner.logs}</pre>` : html`<p class="muted" id="logs">no logs recorded</p>`}
    <h2>Events</h2>${(runner.events || []).length ? html`<pre id="events">${runner.events.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("\n")}</pre>` : html`<p class="muted" id="events">no events recorded</p>`}`);
  if (!TERMINAL.has(run.state) || (analysis && analysis.state === "claimed")) {
    later(() => { if (location.hash === `#/run/${id}`) route(); }, 2000);
  }
}

function analysisHtml(a, run) {
  if (!a || !a.cause) {
    const pending = a && a.state && a.state !== "done" ? ` (analysis ${a.state})` : "";
    return run.root_cause ? html`<b>${run.root_cause}</b>` : html`<span class="muted" data-analysis="none">not analysed${pending}</span>`;
  }
  const confidence = a.confidence === null || a.confidence === undefined ? "—" : `${Math.round(a.confidence * 100)}%`;
  const evidence = a.evidence && Object.keys(a.evidence).length ? html`<pre>${JSON.stringify(a.evidence, null, 2)}</pre>` : "";
  return html`<div data-analysis="done"><b>${a.cause}</b> · confidence ${confidence}
    ${a.priority ? ` · priority ${a.priority}` : ""}${a.rule ? ` · rule ${a.rule}` : ""}</div>
    ${a.reason ? html`<p>${a.reason}</p>` : ""}${evidence}`;
}
