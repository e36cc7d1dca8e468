// The fleet page: every cluster x case as one canvas (virtual rows: only those in view are painted),
// filtered by group, labels, a search and "failing only"; a click opens the cell's latest run.
import { html, insert, render } from "./html.js";
import { TOKEN_KEY, api, current, hashParams, view } from "./session.js";
import { staleClusters, staleIncidents, staleList } from "./stale.js";

const STATE_COLOURS = {
  s: "#2e9e44", f: "#d93025", t: "#e8710a", e: "#b0a000", c: "#9aa0a6", ".": "#e8eaed",
};
const STATE_NAMES = {
  s: "succeeded", f: "failed", t: "timed_out", e: "error", c: "cancelled", ".": "no run yet",
};
const CELL = 12;
let fleet = null;
let stale = new Set();  // clusters with something silent: their names are drawn in orange
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

export async function renderFleet(_arg, gen) {
  const t0 = performance.now();
  render(view(), html`
    <h1>Fleet</h1>
    <div class="controls">
      <select id="f-group"><option value="">all groups</option></select>
      <input id="f-label" placeholder="label k=v[,k=v]" size="18">
      <input id="f-search" placeholder="search clusters or cases" size="24">
      <label><input type="checkbox" id="f-failing"> failing only</label>
      <span id="f-summary" class="muted"></span>
    </div>
    <div id="stale-box"></div>
    <div class="legend">${Object.entries(STATE_NAMES).map(([c, n]) => html`<span><i style="background:${STATE_COLOURS[c]}"></i>${n}</span>`)}</div>
    <div id="matrix-wrap"><canvas id="matrix"></canvas><div id="matrix-space"></div></div>
    <div id="tip"></div>`);
  const early = fleetPrefetch;
  fleetPrefetch = null;
  const data = (early && await early) || await api("/api/v1/fleet");
  if (!current(gen)) return;
  fleet = data;
  const groups = document.getElementById("f-group");
  for (const g of fleet.groups) insert(groups, "beforeend", html`<option>${g.name}</option>`);
  const params = hashParams();
  for (const [id, key] of [["f-group", "group"], ["f-label", "label"], ["f-search", "q"]]) {
    if (params.get(key)) document.getElementById(id).value = params.get(key);
  }
  for (const id of ["f-group", "f-label", "f-search", "f-failing"]) {
    document.getElementById(id).addEventListener("input", drawFleet);
  }
  drawFleet();
  staleIncidents().then((incidents) => {
    if (!current(gen)) return;
    stale = staleClusters(incidents);
    render(document.getElementById("stale-box"), staleList(incidents));
    paintFleet();
  });
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
    ctx.fillStyle = stale.has(fleet.clusters[i].name) ? STATE_COLOURS.t : "#202124";
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
