// The study page: header, optimisation history, Pareto front, trial table (server-side filter,
// sort and pagination), parameters (importance, parallel coordinates), learning curves and, for
// NAS studies, the architectures of the front. Trials are held here as columns indexed by trial
// number; polls of /changes merge only what changed since the last cursor.
import {
  ApiError, CONFIG, afterPaint, ago, api, count, duration, el, esc, fmt, markReady, plotlyReady, poll, render,
  states,
} from "/static/common.js";

const STUDY_ID = Number(window.location.pathname.split("/")[2]);
const GL_THRESHOLD = 1000; // beyond this many markers, WebGL traces (SVG markers cost ~0.3 ms each to draw)
const OTHER = "rgba(140,140,140,0.55)";
const FRONT = "#d62728";
const BEST = "#1f77b4";
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

const $ = (id) => document.getElementById(id);
let summary = null;
let cursor = null;
const store = { number: [], state: [], values: [], budget: [], excluded: [], feasible: [], arch: [] };
const table = { offset: 0, limit: 50, sort: "number", order: "asc", filter: "" };
const stale = { params: true, curves: true, archs: true, splits: true };
let activeTab = "overview";
const drawnAt = {};
let paretoCache = { key: null, numbers: new Set(), size: 0 };

// ------------------------------------------------------------------ data
function merge(columns, reset) {
  if (reset) {
    for (const key of Object.keys(store)) store[key] = [];
    store.values = summary.objectives.map(() => []);
  }
  const n = columns.number.length;
  for (let i = 0; i < n; i += 1) {
    const k = columns.number[i];
    store.number[k] = k;
    store.state[k] = columns.state[i];
    store.budget[k] = columns.budget[i];
    store.excluded[k] = columns.excluded[i];
    store.feasible[k] = columns.feasible ? columns.feasible[i] : null;
    for (let j = 0; j < summary.objectives.length; j += 1) store.values[j][k] = columns.values[j][i];
    if (columns.arch) store.arch[k] = columns.arch[i];
  }
  return n;
}

function included(k) { return store.state[k] === "COMPLETE" && !store.excluded[k]; }

function finalNumbers(objIdx) {
  // The included COMPLETE trials at the largest budget reached (a null budget is full fidelity).
  let top = -Infinity;
  const done = [];
  for (const k of store.number) {
    if (k === undefined || !included(k)) continue;
    if (objIdx.some((j) => store.values[j][k] === null || store.values[j][k] === undefined)) continue;
    const level = store.budget[k] === null ? Infinity : store.budget[k];
    if (level > top) top = level;
    done.push(k);
  }
  return done.filter((k) => (store.budget[k] === null ? Infinity : store.budget[k]) === top);
}

function hover(k) {
  const lines = [`trial #${k}`];
  summary.objectives.forEach((o, j) => {
    const v = store.values[j][k];
    if (v !== null && v !== undefined) lines.push(`${esc(o.name)} = ${esc(fmt(v))}`);
  });
  if (store.budget[k] !== null && store.budget[k] !== undefined) lines.push(`budget ${esc(fmt(store.budget[k]))}`);
  if (store.arch[k]) lines.push(esc(store.arch[k]));
  return lines.join("<br>");
}

// ------------------------------------------------------------------ header
function drawSummary() {
  document.title = `${summary.name} \u00b7 nas dashboard`;
  $("study-name").textContent = summary.name;
  $("crumb-name").textContent = summary.name;
  const objectives = summary.objectives.map((o) => `${o.name} ${o.direction === "minimize" ? "\u2193" : "\u2191"}`).join(", ");
  const result = summary.best
    ? `${fmt(summary.best.value)} (trial #${summary.best.number})`
    : summary.pareto_size !== null && summary.pareto_size !== undefined ? `${count(summary.pareto_size)} trials on the front` : "\u2013";
  const facts = [
    ["objectives", objectives],
    ["searcher", summary.searcher.name],
    ["seed", summary.seed],
    ["trials", states(summary.states)],
    [summary.objectives.length === 1 ? "best" : "Pareto", result],
    ["last update", ago(summary.last_update)],
  ];
  if (summary.n_excluded) facts.push(["excluded", count(summary.n_excluded)]);
  if (summary.constraints) facts.push(["constraints", summary.constraints.join(", ")], ["feasible", `${count(summary.n_feasible)} of ${count(summary.states.COMPLETE)} complete`]);
  if (summary.budgets.length) facts.push(["budgets", summary.budgets.map((b) => fmt(b)).join(", ")]);
  $("facts").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("span", {}, k), el("span", { class: "fact-" + k.replace(/\W/g, "") }, String(v)))));
  $("facts").dataset.nTrials = String(summary.n_trials);
  drawNote();
  $("tabs").querySelector('[data-tab="archs"]').hidden = !summary.is_nas;
  $("tabs").querySelector('[data-tab="splits"]').hidden = !summary.family;
}

function drawNote() {
  const box = $("note-box");
  const children = [];
  if (summary.note) children.push(el("div", { class: "note", id: "note-text" }, summary.note));
  if (CONFIG.allow_write) {
    children.push(el("button", {
      class: "btn", text: summary.note ? "edit note" : "add note",
      onclick: () => {
        const area = el("textarea", { class: "note-edit", id: "note-edit" });
        area.value = summary.note;
        const save = el("button", {
          class: "btn primary", text: "save note",
          onclick: async () => {
            try {
              await api(`/api/studies/${STUDY_ID}/note`, { method: "PUT", json: { note: area.value } });
              summary = await api(`/api/studies/${STUDY_ID}`);
              drawSummary();
            } catch (error) { $("error").textContent = `saving the note failed: ${error.message}`; }
          },
        });
        box.replaceChildren(area, save);
      },
    }));
  }
  box.replaceChildren(...children);
}

function fillSelect(select, names, chosen) {
  select.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === chosen }, n)));
}

// ------------------------------------------------------------------ overview plots
async function drawHistory() {
  const j = Math.max(0, summary.objectives.findIndex((o) => o.name === $("history-objective").value));
  const o = summary.objectives[j];
  const xs = []; const ys = []; const text = []; const budgets = [];
  for (const k of store.number) {
    if (k === undefined || !included(k)) continue;
    const v = store.values[j][k];
    if (v === null || v === undefined) continue;
    xs.push(k); ys.push(v); text.push(hover(k)); budgets.push(store.budget[k]);
  }
  // Best so far as a step line through its improvements only (a handful of points, not n).
  const sign = o.direction === "minimize" ? 1 : -1;
  const bestX = []; const bestY = []; let b = Infinity;
  ys.forEach((v, i) => { if (sign * v < b) { b = sign * v; bestX.push(xs[i]); bestY.push(v); } });
  if (xs.length) { bestX.push(xs[xs.length - 1]); bestY.push(sign * b); }
  const type = xs.length > GL_THRESHOLD ? "scattergl" : "scatter";
  const multiBudget = new Set(budgets).size > 1;
  const marker = multiBudget
    ? { size: 5, color: budgets.map((x) => Math.log10(x || 1)), colorscale: "Viridis", showscale: true, colorbar: { title: "log10 budget" } }
    : { size: 5, color: OTHER };
  const traces = [
    { x: xs, y: ys, type, mode: "markers", name: o.name, marker, text, hoverinfo: "text" },
    { x: bestX, y: bestY, type: "scatter", mode: "lines", name: "best so far", line: { color: BEST, shape: "hv", width: 2 }, hoverinfo: "skip" },
  ];
  await render($("plot-history"), traces, {
    xaxis: { title: { text: "trial" } }, yaxis: { title: { text: o.name } },
    showlegend: true, legend: { orientation: "h", y: 1.12 },
  }, xs.length);
  openOnClick($("plot-history"), (p) => (p.curveNumber === 0 ? p.x : null));
}

async function paretoFront(names) {
  const key = `${names.join(",")}@${cursor}`;
  if (paretoCache.key !== key) {
    const front = await api(`/api/studies/${STUDY_ID}/pareto?objectives=${names.map(encodeURIComponent).join(",")}`);
    paretoCache = { key, numbers: new Set(front.numbers), size: front.numbers.length };
  }
  return paretoCache;
}

async function drawPareto() {
  if (summary.objectives.length < 2) return;
  const names = summary.objectives.map((o) => o.name);
  const three = summary.objectives.length >= 3 && $("pareto-3d").checked;
  const chosen = three ? names.slice(0, 3) : [$("pareto-x").value, $("pareto-y").value];
  if (chosen[0] === chosen[1]) {
    await render($("plot-pareto"), [], { title: { text: "choose two different objectives" } }, 0);
    return;
  }
  const idx = chosen.map((n) => names.indexOf(n));
  const finals = finalNumbers(idx);
  const { numbers: front, size } = await paretoFront(chosen);
  $("pareto-size").textContent = `${count(size)} of ${count(finals.length)} on the front`;
  const groups = { other: [], front: [], infeasible: [] };
  for (const k of finals) {
    if (store.feasible[k] === false) groups.infeasible.push(k);
    else (front.has(k) ? groups.front : groups.other).push(k);
  }
  groups.front.sort((a, b) => store.values[idx[0]][a] - store.values[idx[0]][b]);
  const axis = (ks, d) => ks.map((k) => store.values[idx[d]][k]);
  const kind = three ? "scatter3d" : finals.length > GL_THRESHOLD ? "scattergl" : "scatter";
  const make = (ks, name, style) => {
    const trace = { x: axis(ks, 0), y: axis(ks, 1), type: kind, name, text: ks.map(hover), hoverinfo: "text", customdata: ks, ...style };
    if (three) trace.z = axis(ks, 2);
    return trace;
  };
  const traces = [
    make(groups.other, "dominated", { mode: "markers", marker: { size: three ? 3 : 5, color: OTHER } }),
    ...(groups.infeasible.length
      ? [make(groups.infeasible, "infeasible", { mode: "markers", marker: { size: three ? 3 : 6, color: OTHER, symbol: "x", opacity: 0.6 } })]
      : []),
    make(groups.front, "Pareto front", {
      mode: three ? "markers" : "markers+lines",
      marker: { size: three ? 4 : 7, color: FRONT },
      // The staircase bounding the dominated region: along x first when x is minimised.
      line: { color: FRONT, shape: summary.objectives[idx[0]].direction === "minimize" ? "hv" : "vh" },
    }),
  ];
  const layout = three
    ? { scene: { xaxis: { title: { text: chosen[0] } }, yaxis: { title: { text: chosen[1] } }, zaxis: { title: { text: chosen[2] } } } }
    : { xaxis: { title: { text: chosen[0] } }, yaxis: { title: { text: chosen[1] } } };
  await render($("plot-pareto"), traces, { ...layout, showlegend: true, legend: { orientation: "h", y: 1.12 } }, finals.length);
  openOnClick($("plot-pareto"), (p) => p.customdata);
}

// A click on a point opens its trial (once per plot element: plotly keeps the handler on redraw).
function openOnClick(div, numberOf) {
  if (div.dataset.clickable) return;
  div.dataset.clickable = "1";
  div.on("plotly_click", (event) => {
    const k = numberOf(event.points[0]);
    if (Number.isInteger(k)) window.location.href = `/studies/${STUDY_ID}/trials/${k}`;
  });
}

// ------------------------------------------------------------------ trial table
function tableColumns(page) {
  const cols = [{ key: "number", label: "#", num: true }, { key: "state", label: "state" }];
  page.objectives.forEach((o, j) => cols.push({ key: o.name, label: o.name, num: true, value: (r) => r.values[j] }));
  if (summary.budgets.length) cols.push({ key: "budget", label: "budget", num: true });
  if (summary.constraints) {
    cols.push({ key: "feasible", label: "feasible", show: (r) => (r.feasible === null || r.feasible === undefined ? "" : r.feasible ? "yes" : "no") });
    cols.push({ key: "violation", label: "violation", num: true });
  }
  if (summary.is_nas) cols.push({ key: "arch", label: "architecture", cls: "arch" });
  if (summary.family) cols.push({ key: "leaf", label: "leaf" });
  page.params.forEach((p) => cols.push({ key: p, sortKey: `params.${p}`, label: p, value: (r) => r.params[p] }));
  cols.push({ key: "duration", label: "duration", num: true, show: (r) => duration(r.duration) });
  return cols;
}

function fetchTablePage() {
  const query = new URLSearchParams({
    offset: table.offset, limit: table.limit, sort: table.sort, order: table.order, filter: table.filter,
  });
  return api(`/api/studies/${STUDY_ID}/trials?${query}`);
}

function loadTable() { return showTable(fetchTablePage()); }

// Draws the table page a request (fetchTablePage) brings; a bad filter is reported in one line.
// Only the latest call draws: a slower, older response (a live-update reload issued before a click
// on a header, say) is dropped, so rows always match the sort, filter and page on screen.
let tableSeq = 0;
async function showTable(pending) {
  const seq = ++tableSeq;
  let page;
  try {
    page = await pending;
    if (seq !== tableSeq) return;
    $("filter-error").textContent = "";
  } catch (error) {
    if (seq !== tableSeq) return;
    if (error instanceof ApiError && error.status === 400) {
      $("filter-error").textContent = error.message;
      return;
    }
    throw error;
  }
  const cols = tableColumns(page);
  const head = el("tr", {}, cols.map((c) => {
    const key = c.sortKey || c.key;
    const cls = ["sortable", c.num ? "num" : "", table.sort === key ? `sorted-${table.order}` : ""].join(" ");
    return el("th", {
      class: cls, title: `sort by ${c.label}`,
      onclick: () => {
        if (table.sort === key) table.order = table.order === "asc" ? "desc" : "asc";
        else { table.sort = key; table.order = "asc"; }
        table.offset = 0;
        loadTable();
      },
    }, c.label);
  }));
  $("trials").querySelector("thead").replaceChildren(head);
  const rows = page.rows.map((r) => el("tr", { class: r.excluded ? "excluded" : "", dataset: { number: r.number } },
    cols.map((c) => {
      if (c.key === "number") return el("td", { class: "num" }, el("a", { href: `/studies/${STUDY_ID}/trials/${r.number}` }, String(r.number)));
      if (c.key === "state") return el("td", {}, el("span", { class: `badge ${r.state}` }, r.state));
      const raw = c.value ? c.value(r) : r[c.key];
      return el("td", { class: [c.num ? "num" : "", c.cls || ""].join(" ") }, c.show ? c.show(r) : fmt(raw));
    })));
  const tbody = $("trials").querySelector("tbody");
  tbody.replaceChildren(...rows);
  tbody.dataset.total = String(page.total);
  tbody.dataset.rows = String(page.rows.length);
  const last = Math.min(page.offset + page.rows.length, page.total);
  $("page-info").textContent = page.total
    ? `${count(page.offset + 1)}\u2013${count(last)} of ${count(page.total)}${page.total !== page.n_trials ? ` (filtered from ${count(page.n_trials)})` : ""}`
    : `no trial matches (of ${count(page.n_trials)})`;
  $("page-prev").disabled = page.offset === 0;
  $("page-next").disabled = last >= page.total;
}

// ------------------------------------------------------------------ other tabs
async function drawParams() {
  const objective = encodeURIComponent($("params-objective").value);
  $("plot-importance").parentElement.querySelector(".overlay").textContent = "computing\u2026";
  // The two plots render independently: the forest behind the importances takes longer.
  await Promise.all([drawImportance(objective), drawParallel(objective)]);
}

async function drawImportance(objective) {
  const imp = await api(`/api/studies/${STUDY_ID}/plots/importance?objective=${objective}`);
  const names = Object.keys(imp.importances).reverse();
  const sample = imp.n_used < imp.n_trials ? ` (a sample of ${count(imp.n_used)})` : "";
  $("importance-note").textContent = imp.error ? imp.error : `fANOVA over ${count(imp.n_trials)} trials${sample}`;
  await render($("plot-importance"), [{
    type: "bar", orientation: "h", x: names.map((n) => imp.importances[n]), y: names.map(esc),
    marker: { color: BEST }, hovertemplate: "%{y}: %{x:.3f}<extra></extra>",
  }], { xaxis: { title: { text: "share of variance (main effects)" }, range: [0, 1] }, margin: { l: 140, r: 20, t: 20, b: 50 } }, names.length);
}

async function drawParallel(objective) {
  const par = await api(`/api/studies/${STUDY_ID}/plots/parallel?objective=${objective}`);
  const dims = par.dimensions.map((d) => {
    const dim = { label: esc(d.name), values: d.values };
    if (d.range) dim.range = d.range;
    if (d.tickvals) { dim.tickvals = d.tickvals; dim.ticktext = d.ticktext.map(esc); }
    return dim;
  });
  dims.push({ label: esc(par.objective.name), values: par.color });
  const reverse = par.objective.direction === "maximize";
  await render($("plot-parallel"), par.number.length ? [{
    type: "parcoords", dimensions: dims,
    line: { color: par.color, colorscale: "Viridis", reversescale: !reverse, showscale: true },
  }] : [], { margin: { l: 80, r: 80, t: 50, b: 30 } }, par.number.length);
}

async function drawCurves() {
  const objective = $("curves-objective").value;
  const by = $("curves-color").value;
  const data = await api(`/api/studies/${STUDY_ID}/plots/intermediate?objective=${encodeURIComponent(objective)}&limit=1000`);
  const groups = new Map();
  for (const c of data.curves) {
    const key = by === "bracket" ? (c.bracket === null || c.bracket === undefined ? "no bracket" : `bracket ${c.bracket}`)
      : by === "budget" ? `budget ${fmt(c.budget)}` : c.state;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(c);
  }
  const traces = [];
  let g = 0;
  for (const [key, curves] of [...groups.entries()].sort()) {
    const x = []; const y = []; const text = [];
    for (const c of curves) {
      const label = `trial #${c.number}${c.rung !== null && c.rung !== undefined ? ` \u00b7 rung ${c.rung}` : ""}`;
      c.steps.forEach((s, i) => { x.push(s); y.push(c.values[i]); text.push(label); });
      x.push(null); y.push(null); text.push("");
    }
    traces.push({ x, y, text, type: "scatter", mode: "lines+markers", name: esc(key), hoverinfo: "text+y",
      line: { color: PALETTE[g % PALETTE.length], width: 1 }, marker: { size: 3 } });
    g += 1;
  }
  $("curves-note").textContent = data.n_total > data.curves.length
    ? `latest ${count(data.curves.length)} of ${count(data.n_total)} trials` : `${count(data.n_total)} trials`;
  await render($("plot-curves"), traces, { xaxis: { title: { text: "step" } }, yaxis: { title: { text: data.objective.name } } }, data.curves.length);
}

async function drawArchs() {
  // One row per architecture of the front, with every trial that evaluated it.
  const front = await api(`/api/studies/${STUDY_ID}/pareto`);
  const archs = front.architectures || front.trials.map((r) => ({ ...r, trials: [r.number] }));
  const leaf = Boolean(summary.family);
  const head = el("tr", {}, el("th", { class: "num" }, "#"), front.objectives.map((o) => el("th", { class: "num" }, o.name)),
    el("th", {}, "architecture"), leaf ? el("th", {}, "leaf") : [], el("th", {}, "trials"));
  const names = summary.objectives.map((o) => o.name);
  const link = (n) => el("a", { href: `/studies/${STUDY_ID}/trials/${n}` }, String(n));
  const rows = archs.map((r) => el("tr", {},
    el("td", { class: "num" }, link(r.number)),
    front.objectives.map((o) => el("td", { class: "num" }, fmt(r.values[names.indexOf(o.name)]))),
    el("td", { class: "arch wrap" }, r.arch || ""),
    leaf ? el("td", { class: "leaf" }, r.leaf || "") : [],
    el("td", { class: "trials" }, r.trials.flatMap((n, i) => (i ? [", ", link(n)] : [link(n)])))));
  $("archs").querySelector("thead").replaceChildren(head);
  $("archs").querySelector("tbody").replaceChildren(...rows);
  $("archs").dataset.rows = String(rows.length);
}

// A choice [op, kernel, width] as the architecture text writes it (conv3/16, skip).
const choiceText = ([op, k, w]) => (k || w ? `${op}${k || ""}${w ? "/" + w : ""}` : op);

function drawSplits() {
  // The family's splits in order; for gradient matching, every scored slot's cut score and the
  // distance matrix of the slot that was split.
  const family = summary.family;
  const head = el("tr", {}, ["#", "leaf", "slot", "children: choices", "policy", "at step", "restart"].map((h) => el("th", {}, h)));
  const rows = family.splits.map((r, i) => el("tr", {},
    el("td", { class: "num" }, String(i + 1)),
    el("td", {}, r.leaf),
    el("td", {}, `s${r.slot[0]}.l${r.slot[1]}`),
    el("td", { class: "wrap" }, r.children.map((c, g) => `${c}: ${r.groups[g].map(choiceText).join(" ")}`).join(" \u00b7 ")),
    el("td", {}, r.policy),
    el("td", { class: "num" }, String(r.at_step)),
    el("td", {}, r.final ? "final: new weights" : "copied")));
  $("splits").querySelector("thead").replaceChildren(head);
  $("splits").querySelector("tbody").replaceChildren(...rows);
  $("splits").dataset.rows = String(rows.length);
  $("leaves").textContent = `${family.leaves.length} leaves: ${family.leaves.map((l) => l.id).join(", ")}`;
  const boxes = [];
  family.splits.forEach((r, i) => {
    if (!r.scores.length) return;
    const chosen = r.scores.find((s) => s.slot[0] === r.slot[0] && s.slot[1] === r.slot[1]);
    const labels = chosen.choices.map(choiceText);
    const div = el("div", { class: "plot" });
    const cuts = r.scores.map((s) => `s${s.slot[0]}.l${s.slot[1]} ${fmt(s.cut, 4)}`).join(", ");
    boxes.push(el("div", { class: "plot-box" },
      el("div", { class: "controls" }, el("strong", {}, `Split ${i + 1} (leaf ${r.leaf}): gradient distance of s${r.slot[0]}.l${r.slot[1]}`),
        el("span", { class: "muted" }, `cut scores: ${cuts}`)), div));
    render(div, [{ type: "heatmap", z: chosen.distance, x: labels, y: labels, colorscale: "Viridis", zmin: 0,
      hovertemplate: "%{y} vs %{x}: %{z:.4f}<extra></extra>" }],
    { xaxis: { type: "category" }, yaxis: { type: "category", autorange: "reversed" } }, labels.length ** 2);
  });
  $("split-plots").replaceChildren(...boxes);
}

const drawTab = { params: drawParams, curves: drawCurves, archs: drawArchs, splits: drawSplits };

async function showTab(name) {
  activeTab = name;
  for (const b of $("tabs").querySelectorAll("button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== `panel-${name}`;
  if (name === "overview") { window.dispatchEvent(new Event("resize")); return; }
  if (stale[name]) {
    stale[name] = false;
    drawnAt[name] = performance.now();
    try { await drawTab[name](); } catch (error) { $("error").textContent = error.message; stale[name] = true; }
  }
}

// ------------------------------------------------------------------ live update
async function redrawOverview() {
  await Promise.all([drawHistory(), drawPareto(), loadTable()]);
}

async function pollChanges() {
  const changes = await api(`/api/studies/${STUDY_ID}/changes?cursor=${encodeURIComponent(cursor)}`);
  const n = merge(changes.trials, changes.reset);
  cursor = changes.cursor;
  if (n === 0 && !changes.study_changed) return;
  summary = await api(`/api/studies/${STUDY_ID}`);
  drawSummary();
  for (const key of Object.keys(stale)) stale[key] = true;
  await redrawOverview();
  // The other tabs follow a running study at most every 10 s (they re-read every trial).
  if (activeTab !== "overview" && performance.now() - (drawnAt[activeTab] || 0) > 10000) await showTab(activeTab);
}

async function start() {
  // Every request of the first view goes out at once (plotly.js is being fetched meanwhile: the
  // page preloads it). The header and the first table page are drawn as soon as they arrive;
  // plotly.js is evaluated after the table is on screen, then the plots are drawn.
  const summaryP = api(`/api/studies/${STUDY_ID}`);
  const dataP = api(`/api/studies/${STUDY_ID}/data`);
  const frontP = api(`/api/studies/${STUDY_ID}/pareto`);
  const pageP = fetchTablePage();
  pageP.catch(() => {}); // handled by showTable below
  summary = await summaryP;
  drawSummary();
  $("loading-text").textContent = `Loading ${count(summary.n_trials)} trials\u2026`;
  const names = summary.objectives.map((o) => o.name);
  for (const id of ["history-objective", "params-objective", "curves-objective"]) fillSelect($(id), names, names[0]);
  if (names.length >= 2) {
    $("pareto-box").hidden = false;
    fillSelect($("pareto-x"), names, names[0]);
    fillSelect($("pareto-y"), names, names[1]);
    $("pareto-3d-label").hidden = names.length < 3;
  }
  const tableP = showTable(pageP).then(() => {
    // The header and the table are usable from here on (the benchmark reads this stamp).
    performance.mark("nas-table");
    window.__nasTable = performance.now();
    document.body.dataset.table = "1";
  });
  const plotlyP = tableP.catch(() => null).then(afterPaint).then(plotlyReady);
  const [data, front] = await Promise.all([dataP, frontP, tableP, plotlyP]);
  performance.mark("nas-data");
  $("loading-text").textContent = `Drawing ${count(summary.n_trials)} trials\u2026`;
  merge(data.trials, true);
  cursor = data.cursor;
  if (names.length === 2 && `${data.cursor.split(".")[0]}.${front.seq}` === cursor) {
    paretoCache = { key: `${names.join(",")}@${cursor}`, numbers: new Set(front.numbers), size: front.numbers.length };
  }
  await drawHistory();
  performance.mark("nas-history");
  await drawPareto();
  performance.mark("nas-pareto");
  $("loading").hidden = true;
  markReady();
  poll(pollChanges);
}

// ------------------------------------------------------------------ wiring
$("history-objective").addEventListener("change", drawHistory);
for (const id of ["pareto-x", "pareto-y", "pareto-3d"]) $(id).addEventListener("change", drawPareto);
$("params-objective").addEventListener("change", () => { stale.params = true; showTab("params"); });
for (const id of ["curves-objective", "curves-color"]) $(id).addEventListener("change", () => { stale.curves = true; showTab("curves"); });
$("tabs").addEventListener("click", (event) => { if (event.target.dataset.tab) showTab(event.target.dataset.tab); });
const applyFilter = () => { table.filter = $("trial-filter").value.trim(); table.offset = 0; loadTable(); };
$("filter-apply").addEventListener("click", applyFilter);
$("trial-filter").addEventListener("keydown", (event) => { if (event.key === "Enter") applyFilter(); });
$("filter-clear").addEventListener("click", () => { $("trial-filter").value = ""; applyFilter(); });
$("page-size").addEventListener("change", () => { table.limit = Number($("page-size").value); table.offset = 0; loadTable(); });
$("page-prev").addEventListener("click", () => { table.offset = Math.max(0, table.offset - table.limit); loadTable(); });
$("page-next").addEventListener("click", () => { table.offset += table.limit; loadTable(); });

start().catch((error) => {
  $("loading").hidden = true;
  $("error").textContent = error instanceof ApiError && error.status === 404
    ? `no such study (${error.message})` : `cannot load the study: ${error.message}`;
});
