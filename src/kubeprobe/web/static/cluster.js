// The cluster page: health plots per hour, each case's latest state (and "Run now" for operators),
// open findings, recent runs.
import { lineChart } from "./charts.js";
import { badge, ms, pct, runLink, runsTable, when } from "./format.js";
import { html, render } from "./html.js";
import { TERMINAL, api, current, hashParams, later, session, view } from "./session.js";
import { staleIncidents, staleList } from "./stale.js";

export async function renderCluster(name, gen) {
  const hours = Number(hashParams().get("hours")) || 24;
  const q = encodeURIComponent(name);
  const [cluster, health, history, runs, findings, silent] = await Promise.all([
    api(`/api/v1/clusters/${q}`),
    api(`/api/v1/clusters/${q}/health?window_hours=${hours}`),
    api(`/api/v1/clusters/${q}/history?hours=${hours}`),
    api(`/api/v1/runs?cluster=${q}&limit=25`),
    api(`/api/v1/clusters/${q}/findings?limit=200`),
    staleIncidents(name),
  ]);
  if (!current(gen)) return;
  const me = session.me;
  const canTrigger = me && (me.role === "operator" || me.role === "admin");
  const labels = Object.entries(cluster.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  render(view(), html`
    <h1>${cluster.name} ${badge(cluster.state)}${silent.length ? html` <span class="badge stale">stale</span>` : ""}</h1>
    ${staleList(silent)}
    <dl class="kv"><dt>labels</dt><dd>${labels || "—"}</dd><dt>version</dt><dd>${cluster.version || "—"}</dd>
      <dt>window</dt><dd>${[24, 168].map((h, i) => html`${i ? " · " : ""}<a href="#/cluster/${q}?hours=${h}">${h === 24 ? "24 h" : "7 d"}</a>`)}</dd></dl>
    <div class="grid2">
      ${lineChart("success rate per hour", history, [{ key: "success_ratio", colour: "#2e9e44", label: "success", unit: "ratio" }], (v) => `${Math.round(v * 100)}%`)}
      ${lineChart("latency per hour", history, [{ key: "avg_ms", colour: "#1a73e8", label: "avg" }, { key: "p95_ms", colour: "#e8710a", label: "p95" }], ms)}
    </div>
    <h2>Cases</h2>
    <table id="cases"><thead><tr><th>case</th><th>last state</th><th>last run</th><th>finished</th><th>runs</th>
      <th>success</th><th>avg</th><th>p95</th><th></th></tr></thead><tbody>
      ${health.cases.map((c) => html`<tr data-case="${c.case}"><td>${c.case}</td><td>${badge(c.last_state)}</td>
        <td>${runLink(c.last_run)}</td><td>${when(c.last_finished)}</td><td>${c.runs}</td><td>${pct(c.success_ratio)}</td>
        <td>${ms(c.latency_avg_ms)}</td><td>${ms(c.latency_p95_ms)}</td>
        <td>${canTrigger ? html`<button class="run-now" data-case="${c.case}">Run now</button>` : html`<button class="run-now" data-case="${c.case}" disabled title="needs the operator role">Run now</button>`}<span class="trigger-result"></span></td></tr>`)}
    </tbody></table>
    ${health.cases.length ? "" : html`<p class="muted">No case has run on this cluster yet.</p>`}
    <h2>Open findings</h2>
    ${findings.length ? html`<table id="findings"><thead><tr><th>severity</th><th>check</th><th>object</th><th>message</th><th>case</th><th>run</th></tr></thead><tbody>
      ${findings.map((f) => html`<tr><td>${badge(f.severity)}</td><td>${f.check_id}</td><td>${f.object ? `${f.object.kind}/${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name}` : ""}</td>
        <td>${f.message}${f.hint ? html`<div class="muted">${f.hint}</div>` : ""}</td><td>${f.case}</td><td>${runLink(f.run)}</td></tr>`)}
    </tbody></table>` : html`<p class="muted" id="findings">No open findings.</p>`}
    <h2>Recent runs</h2>
    ${runsTable(runs.items)}`);
  for (const button of document.querySelectorAll("button.run-now")) {
    button.addEventListener("click", () => triggerRun(button, name, button.dataset.case));
  }
}

async function triggerRun(button, cluster, caseName) {
  const out = button.nextElementSibling;
  button.disabled = true;
  out.textContent = "starting…";
  let run;
  try {
    run = await api("/api/v1/runs", { method: "POST", body: { case: caseName, cluster } });
  } catch (err) {
    render(out, html`<span class="error-box" data-error>${err.message}</span>`);
    button.disabled = false;
    return;
  }
  const poll = async () => {
    const r = await api(`/api/v1/runs/${run.id}`);
    render(out, html`${runLink(r.id)} ${badge(r.state)}`);
    out.dataset.state = r.state;
    if (TERMINAL.has(r.state)) {
      button.disabled = false;
      const cells = button.closest("tr").children;
      render(cells[1], badge(r.state));
      render(cells[2], html`${runLink(r.id)}`);
      cells[3].textContent = when(r.finished);
      return;
    }
    later(poll, 1000);
  };
  await poll();
}
