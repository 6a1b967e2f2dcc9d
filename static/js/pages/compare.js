// The compare page: several runs' curves overlaid on shared charts (one per metric; training solid,
// validation dashed, one colour per run) and a table of the settings in which their specs differ.

import { CONFIG, epochLayout, metricGroups, metricTitle, traceMode, xRange } from "../lib/charts.js";
import { byId, el, replaceChildren } from "../lib/dom.js";
import { plotlyText } from "../lib/plotly-text.js";
import { statusBadge } from "../lib/run-format.js";
import { specRows } from "../lib/spec-diff.js";

const page = JSON.parse(byId("page-data").textContent);
const runs = page.runs || [];
const COLORS = ["#2f5bd3", "#e07b00", "#1e9e5a", "#c0262d", "#7b4fbb", "#0f9bb0", "#a6761d", "#d6409f", "#4d5b69", "#8cad00"];
const CHART_HEIGHT = 280;

/** Give a run's label: "#3 mnist-cnn". */
const label = (run) => `#${run.id} ${run.name || ""}`.trim();

/** Give a run's colour: the same on the chips, the charts and the table. */
const color = (i) => COLORS[i % COLORS.length];

/** Give the little square of a run's colour (set through the CSSOM, which no CSP forbids). */
function swatch(i) {
  const node = el("span", { class: "swatch", "aria-hidden": "true" });
  node.style.backgroundColor = color(i);
  return node;
}

/** Give the address of the compare page for these run ids. */
function compareUrl(ids) {
  return ids.length ? `/compare?runs=${ids.map(encodeURIComponent).join(",")}` : "/compare";
}

/** Draw the chosen runs as chips (colour, name, status, owner, remove) and the "Add a run" select. */
function drawPicker() {
  const ids = runs.map((r) => r.id);
  replaceChildren(byId("compare-runs"), runs.map((run, i) => el("li", { class: "compare-run", dataset: { runId: String(run.id) } },
    swatch(i),
    el("a", { href: `/runs/${encodeURIComponent(run.id)}`, class: "compare-run-name", text: label(run) }),
    statusBadge(run.status),
    el("span", { class: "muted", text: run.owner ? `by ${run.owner}` : "" }),
    el("a", { class: "icon-button compare-remove", href: compareUrl(ids.filter((id) => id !== run.id)),
      "aria-label": `Remove ${label(run)}`, title: "Remove from the comparison", text: "✕" }))));
  const others = (page.all_runs || []).filter((r) => !ids.includes(r.id));
  const select = byId("add-run");
  replaceChildren(select, el("option", { value: "", text: others.length ? "Pick a run…" : "No other runs" }),
    others.map((r) => el("option", { value: String(r.id), text: `${label(r)} · ${r.status}` })));
  select.disabled = !others.length;
  select.addEventListener("change", () => {
    if (select.value) window.location.assign(compareUrl([...ids, Number(select.value)]));
  });
  const note = byId("compare-note");
  note.hidden = runs.length >= 2;
  note.textContent = runs.length ? "Add another run to compare it with." : "Pick two or more runs on the Runs page, or add them here.";
}

/** Give one chart's traces: per run, its training key solid and its validation key dashed. */
function traces(group, last) {
  const out = [];
  runs.forEach((run, i) => {
    const history = run.history || {};
    const keys = group.keys.filter((k) => (history[k] || []).length);
    keys.forEach((key, k) => out.push({
      x: history[key].map((_, e) => e + 1), y: [...history[key]],
      name: plotlyText(label(run)), legendgroup: `run-${run.id}`, showlegend: k === 0,
      mode: traceMode(last),
      line: { color: color(i), width: 2, dash: key.startsWith("val_") ? "dash" : "solid" },
      marker: { color: color(i), size: 5 },
      meta: [key], hovertemplate: `%{meta[0]} %{y:.4~g}`,
    }));
  });
  return out;
}

/** Give a chart's layout: the metric's title, epochs along x, the runs' legend above. */
function layout(group, last) {
  return epochLayout({ title: group.title, yTitle: group.id, range: xRange(last),
    fromZero: group.id === "loss", height: CHART_HEIGHT });
}

/** Draw one chart per metric with every run's curves on it. */
function drawCharts() {
  const box = byId("compare-charts");
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.history || {}).filter((k) => (r.history[k] || []).length)))];
  const groups = metricGroups(keys);
  if (!groups.length) {
    box.dataset.state = "empty";
    replaceChildren(box, el("p", { class: "charts-empty muted", text: "None of these runs has finished an epoch yet." }));
    return;
  }
  const last = Math.max(1, ...runs.flatMap((r) => Object.values(r.history || {}).map((v) => v.length)));
  const nodes = groups.map((g) => el("div", { class: "chart", dataset: { metric: g.id, keys: g.keys.join(" ") },
    "aria-label": `${metricTitle(g.id)} of the compared runs` }));
  replaceChildren(box, nodes);
  groups.forEach((group, i) => {
    const data = traces(group, last);
    window.Plotly.newPlot(nodes[i], data, layout(group, last), CONFIG);
    nodes[i].dataset.traces = String(data.length);
  });
  box.dataset.state = "ready";
}

/** Draw the settings table: every row, or only those that differ (the default). */
function drawDiff() {
  const showAll = byId("show-all").checked;
  const rows = specRows(runs.map((r) => r.spec || {}));
  const shown = rows.filter((r) => showAll || r.differs);
  replaceChildren(byId("spec-diff-head"), el("th", { text: "Setting" }),
    runs.map((run, i) => el("th", { dataset: { runId: String(run.id) } },
      swatch(i), label(run))));
  replaceChildren(document.querySelector("#spec-diff tbody"), shown.map((row) => el("tr",
    { class: row.differs ? "differs" : "", dataset: { path: row.path, differs: String(row.differs) } },
    el("th", { class: "mono", scope: "row", text: row.path }),
    row.values.map((v) => el("td", { class: "mono", text: v })))));
  const table = byId("spec-diff");
  table.dataset.rows = String(shown.length);
  table.hidden = !shown.length || runs.length === 0;
  byId("spec-same").hidden = runs.length < 2 || rows.some((r) => r.differs) || showAll;
}

drawPicker();
drawCharts();
drawDiff();
byId("show-all").addEventListener("change", drawDiff);
