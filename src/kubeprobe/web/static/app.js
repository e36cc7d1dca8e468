// KubeProbe dashboard: a small hash-routed single page over the center's API (Bearer token from
// sessionStorage). Hand-written, no dependencies; plots are SVG, the fleet matrix is one canvas.
"use strict";

const TOKEN_KEY = "kubeprobe.token";
const STATE_COLOURS = {
  s: "#2e9e44", f: "#d93025", t: "#e8710a", e: "#b0a000", c: "#9aa0a6", ".": "#e8eaed",
};
const STATE_NAMES = {
  s: "succeeded", f: "failed", t: "timed_out", e: "error", c: "cancelled", ".": "no run yet",
};
const TERMINAL = new Set(["succeeded", "failed", "timed_out", "error", "cancelled"]);
const view = () => document.getElementById("view");
let me = null; // {name, role}
let timers = [];
let generation = 0; // bumped per navigation: a slow render of a page left behind must not draw

function current(gen) { return gen === generation; }

// --- helpers -----------------------------------------------------------------------------------

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function badge(state) { return `<span class="badge ${esc(state)}">${esc(state ?? "—")}</span>`; }
function when(iso) { return iso ? esc(new Date(iso).toLocaleString()) : "—"; }
function ms(value) {
  if (value === null || value === undefined) return "—";
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
function pct(value) { return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`; }
function runLink(id) { return id ? `<a href="#/run/${encodeURIComponent(id)}">${esc(id.slice(0, 8))}</a>` : "—"; }
function clusterLink(name) { return `<a href="#/cluster/${encodeURIComponent(name)}">${esc(name)}</a>`; }
function later(fn, delay) { const t = setTimeout(fn, delay); timers.push(t); return t; }

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
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
    if (resp.status === 401 && !options.noLogout) logout(`Log in again: ${detail}`);
    throw new ApiError(resp.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

function showError(err) {
  return `<div class="error-box" data-error>${esc(err.message || err)}</div>`;
}

// --- login -------------------------------------------------------------------------------------

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  renderLogin(message);
}

function renderLogin(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  view().innerHTML = `
    <form class="login panel" id="login-form">
      <h1>Log in</h1>
      <p class="muted">Paste an API token (kp_…). It stays in this tab's session storage only.</p>
      ${message ? showError(message) : ""}
      <input id="token" type="password" autocomplete="off" placeholder="kp_…" required>
      <button type="submit">Log in</button>
    </form>`;
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = document.getElementById("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      me = await api("/api/v1/whoami", { noLogout: true });
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderLogin(err.status === 401 ? `That token was refused: ${err.message}` : err.message);
      return;
    }
    if (!location.hash || location.hash === "#/login") location.hash = "#/fleet";
    route();
  });
}

// --- router ------------------------------------------------------------------------------------

async function route() {
  const gen = ++generation;
  timers.forEach(clearTimeout);
  timers = [];
  if (!sessionStorage.getItem(TOKEN_KEY)) { renderLogin(); return; }
  if (!me) {
    try { me = await api("/api/v1/whoami"); } catch (err) { if (err.status !== 401) view().innerHTML = showError(err); return; }
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${me.name} (${me.role})`;
  const [path] = (location.hash || "#/fleet").slice(1).split("?");
  const [, page = "fleet", ...rest] = path.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === page);
  const pages = { fleet: renderFleet, cluster: renderCluster, run: renderRun, incidents: renderIncidents,
    silences: renderSilences, gates: renderGates };
  const render = pages[page] || renderFleet;
  try { await render(arg, gen); } catch (err) { if (current(gen)) view().innerHTML = showError(err); }
}

// --- fleet -------------------------------------------------------------------------------------

const CELL = 12;
let fleet = null;
// A fleet page opened with a token fetches the matrix at once, alongside the whoami round trip.
let fleetPrefetch = sessionStorage.getItem(TOKEN_KEY) && /^(#\/fleet|#?\/?$)/.test(location.hash || "#/fleet")
  ? api("/api/v1/fleet", { noLogout: true }).catch(() => null) : null;

function selectorMatches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels[k] === v);
}

function parseLabel(text) {
  const out = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const [k, ...v] = part.split("=");
    out[k.trim()] = v.join("=").trim();
  }
  return out;
}

async function renderFleet(_arg, gen) {
  const t0 = performance.now();
  view().innerHTML = `
    <h1>Fleet</h1>
    <div class="controls">
      <select id="f-group"><option value="">all groups</option></select>
      <input id="f-label" placeholder="label k=v[,k=v]" size="18">
      <input id="f-search" placeholder="search clusters or cases" size="24">
      <label><input type="checkbox" id="f-failing"> failing only</label>
      <span id="f-summary" class="muted"></span>
    </div>
    <div class="legend">${Object.entries(STATE_NAMES).map(([c, n]) => `<span><i style="background:${STATE_COLOURS[c]}"></i>${n}</span>`).join("")}</div>
    <div id="matrix-wrap"><canvas id="matrix"></canvas><div id="matrix-space"></div></div>
    <div id="tip"></div>`;
  const early = fleetPrefetch;
  fleetPrefetch = null;
  const data = (early && await early) || await api("/api/v1/fleet");
  if (!current(gen)) return;
  fleet = data;
  const groups = document.getElementById("f-group");
  for (const g of fleet.groups) groups.insertAdjacentHTML("beforeend", `<option>${esc(g.name)}</option>`);
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  for (const [id, key] of [["f-group", "group"], ["f-label", "label"], ["f-search", "q"]]) {
    if (params.get(key)) document.getElementById(id).value = params.get(key);
  }
  for (const id of ["f-group", "f-label", "f-search", "f-failing"]) {
    document.getElementById(id).addEventListener("input", drawFleet);
  }
  drawFleet();
  performance.mark("fleet-rendered");
  document.body.dataset.fleetMs = String(Math.round(performance.now() - t0));
}

function filteredFleet() {
  const group = document.getElementById("f-group").value;
  const labels = parseLabel(document.getElementById("f-label").value);
  const q = document.getElementById("f-search").value.trim().toLowerCase();
  const failingOnly = document.getElementById("f-failing").checked;
  const selector = group ? (fleet.groups.find((g) => g.name === group) || {}).selector : null;
  const width = fleet.cases.length;
  let cols = fleet.cases.map((_, j) => j);
  const caseHit = q ? cols.filter((j) => fleet.cases[j].toLowerCase().includes(q)) : [];
  if (caseHit.length) cols = caseHit;
  const rows = [];
  fleet.clusters.forEach((c, i) => {
    if (selector && !selectorMatches(selector, c.labels)) return;
    if (!selectorMatches(labels, c.labels)) return;
    if (q && !caseHit.length && !c.name.toLowerCase().includes(q)) return;
    if (failingOnly && !cols.some((j) => "ft".includes(fleet.states[i * width + j]))) return;
    rows.push(i);
  });
  return { rows, cols };
}

// The matrix is virtual: the canvas is as tall as the visible part of #matrix-wrap (case names
// stay on top), a spacer gives the scroll height, and a scroll repaints the rows in view only.
let layout = null;

function widest(ctx, names) {
  const longest = [...names].sort((a, b) => b.length - a.length).slice(0, 20);
  return Math.max(0, ...longest.map((n) => ctx.measureText(n).width));
}

function drawFleet() {
  const t0 = performance.now();
  const { rows, cols } = filteredFleet();
  const canvas = document.getElementById("matrix");
  const wrap = document.getElementById("matrix-wrap");
  const width = fleet.cases.length;
  const ctx = canvas.getContext("2d");
  ctx.font = "11px system-ui, sans-serif";
  const left = Math.min(240, Math.max(60, widest(ctx, rows.map((i) => fleet.clusters[i].name)) + 12));
  const top = Math.min(180, Math.max(40, widest(ctx, cols.map((j) => fleet.cases[j])) + 10));
  const w = left + cols.length * CELL + 8;
  const total = top + rows.length * CELL + 4;
  const h = Math.min(total, Math.max(200, window.innerHeight - wrap.getBoundingClientRect().top - 24));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.ceil(w * ratio);
  canvas.height = Math.ceil(h * ratio);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  document.getElementById("matrix-space").style.height = `${total - h}px`;
  layout = { rows, cols, left, top, w, h, ratio, width };
  let failing = 0;
  const states = fleet.states;
  for (const i of rows) {
    for (const j of cols) {
      const code = states[i * width + j];
      if (code === "f" || code === "t") failing++;
    }
  }
  paintFleet();
  canvas.dataset.drawMs = (performance.now() - t0).toFixed(1);
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.cols = String(cols.length);
  document.getElementById("f-summary").textContent =
    `${rows.length} of ${fleet.clusters.length} clusters × ${cols.length} cases · ${failing} failing`;
  wrap.onscroll = () => requestAnimationFrame(paintFleet);
  const hit = (ev) => {
    const r = canvas.getBoundingClientRect();
    const x = Math.floor((ev.clientX - r.left - left) / CELL);
    const py = ev.clientY - r.top - top;
    const y = Math.floor((py + wrap.scrollTop) / CELL);
    if (py < 0 || y >= rows.length) return null;
    const cluster = fleet.clusters[rows[y]].name;
    if (x < 0 || x >= cols.length) return { cluster };
    return { cluster, case: fleet.cases[cols[x]], code: states[rows[y] * width + cols[x]] };
  };
  const tip = document.getElementById("tip");
  canvas.onmousemove = (ev) => {
    const hover = hit(ev);
    if (!hover || !hover.case) { tip.style.display = "none"; return; }
    tip.textContent = `${hover.cluster} · ${hover.case}: ${STATE_NAMES[hover.code]}`;
    tip.style.left = `${ev.clientX + 12}px`;
    tip.style.top = `${ev.clientY + 12}px`;
    tip.style.display = "block";
  };
  canvas.onmouseleave = () => { tip.style.display = "none"; };
  canvas.onclick = async (ev) => {
    const target = hit(ev);
    if (!target) return;
    if (!target.case || target.code === ".") { location.hash = `#/cluster/${encodeURIComponent(target.cluster)}`; return; }
    const page = await api(`/api/v1/runs?limit=1&cluster=${encodeURIComponent(target.cluster)}&case=${encodeURIComponent(target.case)}`);
    location.hash = page.items.length ? `#/run/${page.items[0].id}` : `#/cluster/${encodeURIComponent(target.cluster)}`;
  };
}

function paintFleet() {
  const canvas = document.getElementById("matrix");
  const wrap = document.getElementById("matrix-wrap");
  if (!canvas || !layout) return;
  const { rows, cols, left, top, w, h, ratio, width } = layout;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.font = "11px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const scroll = Math.min(wrap.scrollTop, Math.max(0, rows.length * CELL + top + 4 - h));
  const first = Math.floor(scroll / CELL);
  const offset = top - (scroll - first * CELL);
  const last = Math.min(rows.length, first + Math.ceil((h - top) / CELL) + 1);
  const states = fleet.states;
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, top, w, h - top);
  ctx.clip();
  for (let k = first; k < last; k++) {
    const i = rows[k];
    const py = offset + (k - first) * CELL;
    ctx.fillStyle = "#202124";
    ctx.fillText(fleet.clusters[i].name, 4, py + CELL / 2, left - 8);
    const base = i * width;
    for (let x = 0; x < cols.length; x++) {
      ctx.fillStyle = STATE_COLOURS[states[base + cols[x]]] || STATE_COLOURS["."];
      ctx.fillRect(left + x * CELL, py, CELL - 1, CELL - 1);
    }
  }
  ctx.restore();
  ctx.fillStyle = "#5f6368";
  cols.forEach((j, x) => {
    ctx.save();
    ctx.translate(left + x * CELL + CELL / 2, top - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(fleet.cases[j], 0, 0, top - 8);
    ctx.restore();
  });
}

// --- charts ------------------------------------------------------------------------------------

function lineChart(title, points, series, format) {
  // points: [{hour, ...}], series: [{key, colour, label}]
  const W = 560, H = 180, L = 48, R = 8, T = 18, B = 22;
  const values = points.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v !== undefined);
  const max = series.some((s) => s.unit === "ratio") ? 1 : Math.max(1, ...values) * 1.1;
  const x = (i) => L + (points.length <= 1 ? 0 : (i * (W - L - R)) / (points.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  let svg = `<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" data-chart="${esc(title)}">`;
  svg += `<text x="${L}" y="12" style="font-weight:600;fill:#202124">${esc(title)}</text>`;
  for (const f of [0, 0.5, 1]) {
    svg += `<line x1="${L}" x2="${W - R}" y1="${y(max * f)}" y2="${y(max * f)}" stroke="#eceff1"/>`;
    svg += `<text x="${L - 4}" y="${y(max * f) + 3}" text-anchor="end">${esc(format(max * f))}</text>`;
  }
  const step = Math.max(1, Math.ceil(points.length / 6));
  points.forEach((p, i) => {
    if (i % step === 0) {
      const d = new Date(p.hour);
      svg += `<text x="${x(i)}" y="${H - 6}" text-anchor="middle">${d.getHours()}:00</text>`;
    }
  });
  for (const s of series) {
    let path = "";
    let pen = false;
    points.forEach((p, i) => {
      const v = p[s.key];
      if (v === null || v === undefined) { pen = false; return; }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
      svg += `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${s.colour}"><title>${esc(s.label)} ${esc(format(v))}</title></circle>`;
    });
    if (path) svg += `<path d="${path}" fill="none" stroke="${s.colour}" stroke-width="1.5"/>`;
  }
  series.forEach((s, k) => {
    svg += `<text x="${W - R - 140 + k * 70}" y="12" style="fill:${s.colour}">■ ${esc(s.label)}</text>`;
  });
  return `${svg}</svg>`;
}

// --- cluster -----------------------------------------------------------------------------------

async function renderCluster(name, gen) {
  const hours = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("hours")) || 24;
  const q = encodeURIComponent(name);
  const [cluster, health, history, runs, findings] = await Promise.all([
    api(`/api/v1/clusters/${q}`),
    api(`/api/v1/clusters/${q}/health?window_hours=${hours}`),
    api(`/api/v1/clusters/${q}/history?hours=${hours}`),
    api(`/api/v1/runs?cluster=${q}&limit=25`),
    api(`/api/v1/clusters/${q}/findings?limit=200`),
  ]);
  if (!current(gen)) return;
  const canTrigger = me && (me.role === "operator" || me.role === "admin");
  const labels = Object.entries(cluster.labels || {}).map(([k, v]) => `${esc(k)}=${esc(v)}`).join(", ");
  view().innerHTML = `
    <h1>${esc(cluster.name)} ${badge(cluster.state)}</h1>
    <dl class="kv"><dt>labels</dt><dd>${labels || "—"}</dd><dt>version</dt><dd>${esc(cluster.version || "—")}</dd>
      <dt>window</dt><dd>${[24, 168].map((h) => `<a href="#/cluster/${q}?hours=${h}">${h === 24 ? "24 h" : "7 d"}</a>`).join(" · ")}</dd></dl>
    <div class="grid2">
      ${lineChart("success rate per hour", history, [{ key: "success_ratio", colour: "#2e9e44", label: "success", unit: "ratio" }], (v) => `${Math.round(v * 100)}%`)}
      ${lineChart("latency per hour", history, [{ key: "avg_ms", colour: "#1a73e8", label: "avg" }, { key: "p95_ms", colour: "#e8710a", label: "p95" }], ms)}
    </div>
    <h2>Cases</h2>
    <table id="cases"><thead><tr><th>case</th><th>last state</th><th>last run</th><th>finished</th><th>runs</th>
      <th>success</th><th>avg</th><th>p95</th><th></th></tr></thead><tbody>
      ${health.cases.map((c) => `<tr data-case="${esc(c.case)}"><td>${esc(c.case)}</td><td>${badge(c.last_state)}</td>
        <td>${runLink(c.last_run)}</td><td>${when(c.last_finished)}</td><td>${c.runs}</td><td>${pct(c.success_ratio)}</td>
        <td>${ms(c.latency_avg_ms)}</td><td>${ms(c.latency_p95_ms)}</td>
        <td><button class="run-now" data-case="${esc(c.case)}" ${canTrigger ? "" : 'disabled title="needs the operator role"'}>Run now</button><span class="trigger-result"></span></td></tr>`).join("")}
    </tbody></table>
    ${health.cases.length ? "" : '<p class="muted">No case has run on this cluster yet.</p>'}
    <h2>Open findings</h2>
    ${findings.length ? `<table id="findings"><thead><tr><th>severity</th><th>check</th><th>object</th><th>message</th><th>case</th><th>run</th></tr></thead><tbody>
      ${findings.map((f) => `<tr><td>${badge(f.severity)}</td><td>${esc(f.check_id)}</td><td>${esc(f.object ? `${f.object.kind}/${f.object.namespace ? `${f.object.namespace}/` : ""}${f.object.name}` : "")}</td>
        <td>${esc(f.message)}${f.hint ? `<div class="muted">${esc(f.hint)}</div>` : ""}</td><td>${esc(f.case)}</td><td>${runLink(f.run)}</td></tr>`).join("")}
    </tbody></table>` : '<p class="muted" id="findings">No open findings.</p>'}
    <h2>Recent runs</h2>
    ${runsTable(runs.items)}`;
  for (const button of document.querySelectorAll("button.run-now")) {
    button.addEventListener("click", () => triggerRun(button, name, button.dataset.case));
  }
}

function runsTable(items) {
  return `<table class="runs"><thead><tr><th>run</th><th>case</th><th>cluster</th><th>trigger</th><th>state</th><th>created</th><th>duration</th><th>message</th></tr></thead><tbody>
    ${items.map((r) => `<tr><td>${runLink(r.id)}</td><td>${esc(r.case)}</td><td>${clusterLink(r.cluster)}</td><td>${esc(r.trigger)}</td>
      <td>${badge(r.state)}</td><td>${when(r.created)}</td><td>${ms(r.duration_ms)}</td><td>${esc((r.messages || [])[0] || "")}</td></tr>`).join("")}
  </tbody></table>`;
}

async function triggerRun(button, cluster, caseName) {
  const out = button.nextElementSibling;
  button.disabled = true;
  out.innerHTML = "starting…";
  let run;
  try {
    run = await api("/api/v1/runs", { method: "POST", body: { case: caseName, cluster } });
  } catch (err) {
    out.innerHTML = `<span class="error-box" data-error>${esc(err.message)}</span>`;
    button.disabled = false;
    return;
  }
  const poll = async () => {
    const r = await api(`/api/v1/runs/${run.id}`);
    out.innerHTML = `${runLink(r.id)} ${badge(r.state)}`;
    out.dataset.state = r.state;
    if (TERMINAL.has(r.state)) {
      button.disabled = false;
      const cells = button.closest("tr").children;
      cells[1].innerHTML = badge(r.state);
      cells[2].innerHTML = runLink(r.id);
      cells[3].innerHTML = when(r.finished);
      return;
    }
    later(poll, 1000);
  };
  await poll();
}

// --- run ---------------------------------------------------------------------------------------

async function renderRun(id, gen) {
  const q = encodeURIComponent(id);
  const run = await api(`/api/v1/runs/${q}`);
  let analysis = null;
  try { analysis = await api(`/api/v1/runs/${q}/analysis`); } catch (err) { if (err.status === 401) return; }
  if (!current(gen)) return;
  const runner = (run.details || {}).runner || {};
  const total = Math.max(1, ...run.steps.map((s) => s.duration_ms));
  view().innerHTML = `
    <h1>Run ${esc(run.id)} ${badge(run.state)}</h1>
    <dl class="kv"><dt>case</dt><dd>${esc(run.case)}</dd><dt>cluster</dt><dd>${clusterLink(run.cluster)}</dd>
      <dt>trigger</dt><dd>${esc(run.trigger)}${run.binding ? ` (binding ${esc(run.binding)})` : ""}</dd>
      <dt>created</dt><dd>${when(run.created)}</dd><dt>started</dt><dd>${when(run.started)}</dd>
      <dt>finished</dt><dd>${when(run.finished)}</dd><dt>duration</dt><dd>${ms(run.duration_ms)}</dd></dl>
    <h2>Root cause</h2><div id="analysis" class="panel">${analysisHtml(analysis, run)}</div>
    <h2>Messages</h2>${run.messages.length ? `<ul id="messages">${run.messages.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>` : '<p class="muted">none</p>'}
    <h2>Steps</h2>
    ${run.steps.length ? `<table class="steps" id="steps"><thead><tr><th>step</th><th>ok</th><th>duration</th><th style="width:40%"></th><th>error</th></tr></thead><tbody>
      ${run.steps.map((s) => `<tr><td>${esc(s.name)}</td><td>${s.ok ? "✓" : "✗"}</td><td>${ms(s.duration_ms)}</td>
        <td><div class="bar${s.ok ? "" : " bad"}" style="width:${((100 * s.duration_ms) / total).toFixed(1)}%"></div></td><td>${esc(s.error || "")}</td></tr>`).join("")}
    </tbody></table>` : '<p class="muted">no steps reported</p>'}
    ${run.findings.length ? `<h2>Findings</h2><table><thead><tr><th>severity</th><th>check</th><th>message</th></tr></thead><tbody>
      ${run.findings.map((f) => `<tr><td>${badge(f.severity)}</td><td>${esc(f.check_id)}</td><td>${esc(f.message)}</td></tr>`).join("")}</tbody></table>` : ""}
    ${Object.keys(run.metrics || {}).length ? `<h2>Metrics</h2><dl class="kv">${Object.entries(run.metrics).map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>` : ""}
    <h2>Logs</h2>${runner.logs ? `<pre id="logs">${esc(runner.logs)}</pre>` : '<p class="muted" id="logs">no logs recorded</p>'}
    <h2>Events</h2>${(runner.events || []).length ? `<pre id="events">${runner.events.map((e) => esc(typeof e === "string" ? e : JSON.stringify(e))).join("\n")}</pre>` : '<p class="muted" id="events">no events recorded</p>'}`;
  if (!TERMINAL.has(run.state) || (analysis && analysis.state === "claimed")) {
    later(() => { if (location.hash === `#/run/${id}`) route(); }, 2000);
  }
}

function analysisHtml(a, run) {
  if (!a || !a.cause) {
    const pending = a && a.state && a.state !== "done" ? ` (analysis ${esc(a.state)})` : "";
    return run.root_cause ? `<b>${esc(run.root_cause)}</b>` : `<span class="muted" data-analysis="none">not analysed${pending}</span>`;
  }
  const evidence = a.evidence && Object.keys(a.evidence).length
    ? `<pre>${esc(JSON.stringify(a.evidence, null, 2))}</pre>` : "";
  return `<div data-analysis="done"><b>${esc(a.cause)}</b> · confidence ${a.confidence === null || a.confidence === undefined ? "—" : `${Math.round(a.confidence * 100)}%`}
    ${a.priority ? ` · priority ${esc(a.priority)}` : ""}${a.rule ? ` · rule ${esc(a.rule)}` : ""}</div>
    ${a.reason ? `<p>${esc(a.reason)}</p>` : ""}${evidence}`;
}

// --- incidents, silences, gates ----------------------------------------------------------------

async function listOrPlaceholder(path, what, gen) {
  try {
    const data = await api(path);
    if (!current(gen)) return null;
    return Array.isArray(data) ? data : (data.items || []);
  } catch (err) {
    if (!current(gen)) return null;
    if (err.status === 404 || err.status === 405) {
      view().innerHTML = `<h1>${esc(what)}</h1><div class="placeholder" data-placeholder>This center does not serve ${esc(path)} yet: ${esc(what.toLowerCase())} appear here once alerting is enabled.</div>`;
      return null;
    }
    throw err;
  }
}

async function renderIncidents(_arg, gen) {
  const state = new URLSearchParams(location.hash.split("?")[1] || "").get("state") || "open";
  const items = await listOrPlaceholder(`/api/v1/incidents?limit=200${state === "all" ? "" : `&state=${encodeURIComponent(state)}`}`, "Incidents", gen);
  if (!items) return;
  view().innerHTML = `<h1>Incidents</h1>
    <div class="controls"><select id="i-state">${["open", "firing", "acknowledged", "resolved", "all"].map((s) => `<option${s === state ? " selected" : ""}>${s}</option>`).join("")}</select>
      <span class="muted">${items.length} shown</span></div>
    ${items.length ? `<table id="incidents"><thead><tr><th>state</th><th>priority</th><th>incident</th><th>cause</th><th>where</th><th>opened</th><th>updated</th><th>members</th></tr></thead><tbody>
    ${items.map((i) => `<tr data-incident="${esc(i.id)}"><td>${badge(i.state)}${i.silenced ? ' <span class="badge">silenced</span>' : ""}${i.acked_by ? `<div class="muted">by ${esc(i.acked_by)}</div>` : ""}</td>
      <td>${esc(i.priority)}</td><td>${esc(i.title || i.key)}${i.reason ? `<div class="muted">${esc(i.reason)}</div>` : ""}</td>
      <td>${esc(i.cause)}${i.confidence ? ` (${Math.round(i.confidence * 100)}%)` : ""}</td>
      <td>${esc(i.scope)}: ${(i.clusters || (i.cluster ? [i.cluster] : [])).map(clusterLink).join(", ")}</td><td>${when(i.opened)}</td><td>${when(i.updated)}</td>
      <td>${(i.members || []).slice(0, 10).map((m) => `${esc(m.cluster)}/${esc(m.case)} ${runLink(m.run_id)}${m.failures > 1 ? ` ×${m.failures}` : ""}`).join("<br>")}</td></tr>`).join("")}
    </tbody></table>` : '<p class="muted">No incidents.</p>'}`;
  document.getElementById("i-state").addEventListener("change", (ev) => {
    location.hash = `#/incidents?state=${encodeURIComponent(ev.target.value)}`;
  });
}

async function renderSilences(_arg, gen) {
  const items = await listOrPlaceholder("/api/v1/silences", "Silences", gen);
  if (!items) return;
  const matchers = (s) => (s.matchers || []).map((m) => (typeof m === "string" ? m : `${m.name ?? m.label}${m.op ?? "="}${m.value}`)).join(", ");
  view().innerHTML = `<h1>Silences</h1>
    ${items.length ? `<table id="silences"><thead><tr><th>id</th><th>in force</th><th>mode</th><th>matchers</th><th>starts</th><th>ends</th><th>schedule</th><th>comment</th><th>by</th></tr></thead><tbody>
    ${items.map((s) => `<tr><td>${esc(s.id)}</td><td>${s.active ? badge("active") : '<span class="muted">no</span>'}</td><td>${esc(s.mode)}</td><td>${esc(matchers(s))}</td><td>${when(s.starts)}</td><td>${when(s.ends)}</td>
      <td>${esc(s.cron || "")}${s.duration_s ? ` for ${esc(s.duration_s)} s` : ""}${s.cron ? ` (${esc(s.timezone || "UTC")})` : ""}</td><td>${esc(s.comment || "")}</td><td>${esc(s.created_by || "")}</td></tr>`).join("")}
    </tbody></table>` : '<p class="muted">No silences.</p>'}`;
}

async function renderGates(_arg, gen) {
  const cluster = new URLSearchParams(location.hash.split("?")[1] || "").get("cluster") || "";
  const gates = await api(`/api/v1/gates?limit=100${cluster ? `&cluster=${encodeURIComponent(cluster)}` : ""}`);
  if (!current(gen)) return;
  view().innerHTML = `<h1>Gate history</h1>
    <div class="controls"><input id="g-cluster" placeholder="cluster" value="${esc(cluster)}"><button id="g-go" class="secondary">Filter</button></div>
    ${gates.length ? `<table id="gates"><thead><tr><th>opened</th><th>cluster</th><th>change</th><th>state</th><th>finished</th><th>runs</th></tr></thead><tbody>
    ${gates.map((g) => `<tr><td>${when(g.opened)}</td><td>${clusterLink(g.cluster)}</td><td>${esc(g.gate)}</td><td>${badge(g.state)}</td><td>${when(g.finished)}</td>
      <td>${g.runs.map((r) => `${esc(r.case)} ${runLink(r.id)} ${badge(r.state)}`).join("<br>")}</td></tr>`).join("")}
    </tbody></table>` : '<p class="muted">No gates yet.</p>'}`;
  document.getElementById("g-go").addEventListener("click", () => {
    const c = document.getElementById("g-cluster").value.trim();
    location.hash = c ? `#/gates?cluster=${encodeURIComponent(c)}` : "#/gates";
  });
}

// --- start -------------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("logout").addEventListener("click", () => logout());
  route();
});
