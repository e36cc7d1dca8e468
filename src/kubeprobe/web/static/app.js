// KubeProbe dashboard: a small hash-routed single page over the center's API (Bearer token from
// sessionStorage). Hand-written ES modules, no dependencies and no build step; plots are SVG, the
// fleet matrix is one canvas. Markup is built only with html`...` (html.js), which escapes every
// value it is given: raw markup goes in only through raw(), so `grep -n "raw(" *.js` lists it all.
//
// app.js: login and the router | session.js: token, API client, page state | html.js: templates
// format.js: badges, times, links | charts.js: SVG plots | fleet.js, cluster.js, run.js,
// alerting.js (incidents, silences), gates.js, remedy.js (remediations): the pages
import { renderIncidents, renderSilences } from "./alerting.js";
import { renderCluster } from "./cluster.js";
import { renderFleet } from "./fleet.js";
import { renderGates } from "./gates.js";
import { html, render } from "./html.js";
import { renderRemediation, renderRemediations } from "./remedy.js";
import { renderRun } from "./run.js";
import { TOKEN_KEY, api, current, renderError, session, showError, view } from "./session.js";

const PAGES = {
  fleet: renderFleet,
  cluster: renderCluster,
  run: renderRun,
  incidents: renderIncidents,
  silences: renderSilences,
  gates: renderGates,
  remediations: renderRemediations,
  remediation: renderRemediation,
};

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.me = null;
  renderLogin(message);
}
session.onUnauthorized = logout;

function renderLogin(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("who").textContent = "";
  render(view(), html`
    <form class="login panel" id="login-form">
      <h1>Log in</h1>
      <p class="muted">Paste an API token (kp_…). It stays in this tab's session storage only.</p>
      ${message ? showError(message) : ""}
      <input id="token" type="password" autocomplete="off" placeholder="kp_…" required>
      <button type="submit">Log in</button>
    </form>`);
  document.getElementById("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = document.getElementById("token").value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    try {
      session.me = await api("/api/v1/whoami", { noLogout: true });
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      renderLogin(err.status === 401 ? `That token was refused: ${err.message}` : err.message);
      return;
    }
    if (!location.hash || location.hash === "#/login") location.hash = "#/fleet";
    route();
  });
}

async function route() {
  const gen = ++session.generation;
  session.timers.forEach(clearTimeout);
  session.timers = [];
  if (!sessionStorage.getItem(TOKEN_KEY)) { renderLogin(); return; }
  if (!session.me) {
    try { session.me = await api("/api/v1/whoami"); } catch (err) { if (err.status !== 401) renderError(err); return; }
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("logout").hidden = false;
  document.getElementById("who").textContent = `${session.me.name} (${session.me.role})`;
  const [path] = (location.hash || "#/fleet").slice(1).split("?");
  const [, page = "fleet", ...rest] = path.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const nav = page === "remediation" ? "remediations" : page;
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  const pageRender = PAGES[page] || renderFleet;
  try { await pageRender(arg, gen, route); } catch (err) { if (current(gen)) renderError(err); }
}

window.addEventListener("hashchange", route);
document.getElementById("logout").addEventListener("click", () => logout());
route();
