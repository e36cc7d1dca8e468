// Silence is not health: what stopped reporting, read from the open staleness incidents (the
// center's staleness check opens one per cluster and kind: a binding without results, a cluster
// that does not answer, a resident probe whose operator went quiet; each silent thing a member).
import { clusterLink, when } from "./format.js";
import { html } from "./html.js";
import { api } from "./session.js";

const KINDS = {
  "staleness.binding": "no results",
  "staleness.cluster": "cluster not answering",
  "staleness.resident": "resident probe silent",
};

export async function staleIncidents(cluster) {
  const where = cluster ? `&cluster=${encodeURIComponent(cluster)}` : "";
  try {
    const page = await api(`/api/v1/incidents?state=open&limit=1000${where}`);
    return (page.items || []).filter((i) => i.cause in KINDS);
  } catch (err) {
    if (err.status === 404 || err.status === 405) return [];  // a center without alerting
    throw err;
  }
}

export function staleClusters(incidents) {
  return new Set(incidents.flatMap((i) => (i.members || []).filter((m) => !m.resolved).map((m) => m.cluster)));
}

export function staleList(incidents) {
  const items = incidents.flatMap((i) => (i.members || []).filter((m) => !m.resolved).map((m) => ({ cause: i.cause, m })));
  if (!items.length) return html``;
  return html`<section id="stale" class="stale"><h2>Stale: silence is not health</h2><ul>
    ${items.map(({ cause, m }) => html`<li data-stale="${cause}" data-cluster="${m.cluster}"><b>${KINDS[cause]}</b>:
      ${clusterLink(m.cluster)} · ${m.case} — ${m.message} <span class="muted">(since ${when(m.first)})</span></li>`)}
  </ul></section>`;
}
