// The gate history page: each gate's state and its runs, filtered by cluster.
import { badge, clusterLink, runLink, when } from "./format.js";
import { html, render } from "./html.js";
import { api, current, hashParams, view } from "./session.js";

export async function renderGates(_arg, gen) {
  const cluster = hashParams().get("cluster") || "";
  const gates = await api(`/api/v1/gates?limit=100${cluster ? `&cluster=${encodeURIComponent(cluster)}` : ""}`);
  if (!current(gen)) return;
  render(view(), html`<h1>Gate history</h1>
    <div class="controls"><input id="g-cluster" placeholder="cluster" value="${cluster}"><button id="g-go" class="secondary">Filter</button></div>
    ${gates.length ? html`<table id="gates"><thead><tr><th>opened</th><th>cluster</th><th>change</th><th>state</th><th>finished</th><th>runs</th></tr></thead><tbody>
    ${gates.map((g) => html`<tr><td>${when(g.opened)}</td><td>${clusterLink(g.cluster)}</td><td>${g.gate}</td><td>${badge(g.state)}</td><td>${when(g.finished)}</td>
      <td>${g.runs.map((r, k) => html`${k ? html`<br>` : ""}${r.case} ${runLink(r.id)} ${badge(r.state)}`)}</td></tr>`)}
    </tbody></table>` : html`<p class="muted">No gates yet.</p>`}`);
  document.getElementById("g-go").addEventListener("click", () => {
    const c = document.getElementById("g-cluster").value.trim();
    location.hash = c ? `#/gates?cluster=${encodeURIComponent(c)}` : "#/gates";
  });
}
