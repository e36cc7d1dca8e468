// SVG line charts of hourly points (no library): a title, three grid lines, hour ticks, a path
// and a dot with a tooltip per value.
import { html } from "./html.js";

export function lineChart(title, points, series, format) {
  // points: [{hour, ...}], series: [{key, colour, label, unit?}]
  const W = 560, H = 180, L = 48, R = 8, T = 18, B = 22;
  const values = points.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v !== undefined);
  const max = series.some((s) => s.unit === "ratio") ? 1 : Math.max(1, ...values) * 1.1;
  const x = (i) => L + (points.length <= 1 ? 0 : (i * (W - L - R)) / (points.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const grid = [0, 0.5, 1].map((f) => html`<line x1="${L}" x2="${W - R}" y1="${y(max * f)}" y2="${y(max * f)}" stroke="#eceff1"/>
    <text x="${L - 4}" y="${y(max * f) + 3}" text-anchor="end">${format(max * f)}</text>`);
  const step = Math.max(1, Math.ceil(points.length / 6));
  const ticks = points.map((p, i) => (i % step === 0
    ? html`<text x="${x(i)}" y="${H - 6}" text-anchor="middle">${new Date(p.hour).getHours()}:00</text>` : ""));
  const lines = series.map((s) => {
    let path = "";
    let pen = false;
    const dots = points.map((p, i) => {
      const v = p[s.key];
      if (v === null || v === undefined) { pen = false; return ""; }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
      return html`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${s.colour}"><title>${s.label} ${format(v)}</title></circle>`;
    });
    return html`${dots}${path ? html`<path d="${path}" fill="none" stroke="${s.colour}" stroke-width="1.5"/>` : ""}`;
  });
  const legend = series.map((s, k) => html`<text x="${W - R - 140 + k * 70}" y="12" style="fill:${s.colour}">■ ${s.label}</text>`);
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" data-chart="${title}">
    <text x="${L}" y="12" style="font-weight:600;fill:#202124">${title}</text>${grid}${ticks}${lines}${legend}</svg>`;
}
