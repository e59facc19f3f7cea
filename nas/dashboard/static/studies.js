// The studies list: name, objectives, searcher, trials by state, best value or Pareto size,
// last update. Best/Pareto come from each study's summary, fetched once per change.
import { CONFIG, api, ago, count, el, fmt, markReady, poll, states } from "/static/common.js";

const tbody = document.querySelector("#studies tbody");
const errorLine = document.getElementById("error");
const summaries = new Map(); // id -> {last_update, detail}
let studies = [];

function objectivesText(objectives) {
  return objectives.map((o) => `${o.name} ${o.direction === "minimize" ? "\u2193" : "\u2191"}`).join(", ");
}

function resultCell(study) {
  const cached = summaries.get(study.id);
  if (!cached || !cached.detail) return el("td", { class: "muted" }, "\u2026");
  const d = cached.detail;
  if (d.best) return el("td", {}, fmt(d.best.value), el("span", { class: "muted" }, ` (#${d.best.number})`));
  if (d.pareto_size !== null && d.pareto_size !== undefined) {
    return el("td", {}, `${count(d.pareto_size)} on the front`);
  }
  return el("td", { class: "muted" }, "no complete trial");
}

async function loadSummary(study) {
  const cached = summaries.get(study.id);
  if (cached && cached.last_update === study.last_update && cached.detail) return;
  summaries.set(study.id, { last_update: study.last_update, detail: cached ? cached.detail : null });
  try {
    const detail = await api(`/api/studies/${study.id}`);
    summaries.set(study.id, { last_update: study.last_update, detail });
  } catch (error) {
    summaries.delete(study.id);
    return;
  }
  draw();
}

function writeButtons(study) {
  if (!CONFIG.allow_write) return el("td");
  const rename = el("button", {
    class: "btn", text: "rename",
    onclick: async () => {
      const name = window.prompt("New name of the study", study.name);
      if (!name || name === study.name) return;
      try { await api(`/api/studies/${study.id}/rename`, { json: { name } }); errorLine.textContent = ""; }
      catch (error) { errorLine.textContent = `rename failed: ${error.message}`; }
      refresh();
    },
  });
  const remove = el("button", {
    class: "btn danger", text: "delete",
    onclick: async () => {
      if (!window.confirm(`Delete study "${study.name}" and all its trials?`)) return;
      try { await api(`/api/studies/${study.id}`, { method: "DELETE", json: {} }); errorLine.textContent = ""; }
      catch (error) { errorLine.textContent = `delete failed: ${error.message}`; }
      refresh();
    },
  });
  return el("td", {}, rename, " ", remove);
}

function draw() {
  const query = document.getElementById("study-filter").value.trim().toLowerCase();
  const shown = studies.filter((s) => !query
    || s.name.toLowerCase().includes(query)
    || s.searcher.toLowerCase().includes(query)
    || s.objectives.some((o) => o.name.toLowerCase().includes(query)));
  tbody.replaceChildren(...shown.map((s) => el("tr", { dataset: { studyId: s.id } },
    el("td", { class: "wrap" }, el("a", { href: `/studies/${s.id}`, class: "study-link" }, s.name)),
    el("td", {}, objectivesText(s.objectives)),
    el("td", {}, s.searcher),
    el("td", {}, states(s.states)),
    resultCell(s),
    el("td", { title: s.last_update }, ago(s.last_update)),
    writeButtons(s),
  )));
  document.getElementById("study-count").textContent =
    shown.length === studies.length ? `${count(studies.length)} studies` : `${shown.length} of ${studies.length}`;
  tbody.dataset.rows = String(shown.length);
}

async function refresh() {
  studies = await api("/api/studies");
  document.getElementById("loading").hidden = true;
  draw();
  markReady();
  for (const s of studies) loadSummary(s);
}

document.getElementById("study-filter").addEventListener("input", draw);
refresh().catch((error) => {
  document.getElementById("loading").hidden = true;
  errorLine.textContent = `cannot load studies: ${error.message}`;
});
poll(refresh);
