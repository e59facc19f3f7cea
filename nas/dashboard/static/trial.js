// The trial page: state, values, params, intermediate values, architecture (NAS), failure
// traceback, artifacts, attributes. Refreshes while the trial is unfinished.
import { CONFIG, api, count, duration, el, esc, fmt, markReady, poll, render } from "/static/common.js";

const parts = window.location.pathname.split("/");
const STUDY_ID = Number(parts[2]);
const NUMBER = Number(parts[4]);
const $ = (id) => document.getElementById(id);
let trial = null;

function kv(tbody, entries) {
  tbody.replaceChildren(...entries.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "wrap" }, fmt(v)))));
}

function drawExclude() {
  const box = $("exclude-box");
  const children = [];
  if (trial.excluded) children.push(el("p", { class: "warn", id: "excluded-reason" }, `Excluded from the analyses: ${trial.excluded}`));
  if (CONFIG.allow_write) {
    children.push(el("button", {
      class: "btn", id: "exclude-toggle", text: trial.excluded ? "include again" : "exclude from analyses",
      onclick: async () => {
        const excluded = !trial.excluded;
        const reason = excluded ? window.prompt("Why exclude this trial?", "") : "";
        if (reason === null) return;
        try {
          await api(`/api/studies/${STUDY_ID}/trials/${NUMBER}/excluded`, { method: "PUT", json: { excluded, reason } });
          await load();
        } catch (error) { $("error").textContent = `failed: ${error.message}`; }
      },
    }));
  }
  box.replaceChildren(...children);
}

async function drawCurves() {
  const names = Object.keys(trial.intermediate_values);
  $("curves-box").hidden = names.length === 0;
  if (!names.length) return;
  const traces = names.map((n) => ({
    x: trial.intermediate_values[n].steps, y: trial.intermediate_values[n].values,
    type: "scatter", mode: "lines+markers", name: esc(n),
  }));
  const points = traces.reduce((a, t) => a + t.x.length, 0);
  await render($("plot-curves"), traces, { xaxis: { title: { text: "step" } } }, points);
}

function drawArch() {
  const arch = trial.arch;
  $("arch-box").hidden = !arch;
  if (!arch) return;
  $("arch-text").textContent = (trial.arch_text || "") + (trial.leaf && trial.leaf !== "root" ? ` \u00b7 measured by leaf ${trial.leaf}` : "");
  const rows = [];
  (arch.layers || []).forEach((layers, s) => layers.forEach((layer, i) => {
    rows.push(el("tr", {}, el("td", {}, String(s)), el("td", {}, String(i)), el("td", {}, String(layer[0])),
      el("td", {}, fmt(layer[1])), el("td", {}, fmt(layer[2]))));
  }));
  $("arch").querySelector("tbody").replaceChildren(...rows);
}

function draw() {
  document.title = `Trial ${trial.number} of ${trial.study_name} \u00b7 nas dashboard`;
  $("crumb-study").textContent = trial.study_name;
  $("crumb-study").href = `/studies/${STUDY_ID}`;
  $("crumb-trial").textContent = `trial ${trial.number}`;
  $("trial-title").replaceChildren(`Trial ${trial.number} `, el("span", { class: `badge ${trial.state}`, id: "trial-state" }, trial.state));
  const facts = [["budget", trial.budget === null ? "\u2013" : fmt(trial.budget)], ["duration", duration(trial.duration) || "\u2013"],
    ["started", trial.started || "\u2013"], ["completed", trial.completed || "\u2013"], ["worker", trial.worker || "\u2013"]];
  if (trial.restarts) facts.push(["restarts", count(trial.restarts)]);
  $("facts").replaceChildren(...facts.map(([k, v]) => el("div", {}, el("span", {}, k), el("span", {}, String(v)))));
  kv($("values").querySelector("tbody"), trial.objectives.map((o) => [`${o.name} (${o.direction})`, trial.values[o.name]]));
  kv($("params").querySelector("tbody"), Object.entries(trial.params));
  $("failure-box").hidden = !trial.failure_reason;
  $("failure").textContent = trial.failure_reason || "";
  $("artifacts-box").hidden = trial.artifacts.length === 0;
  $("artifacts").querySelector("tbody").replaceChildren(...trial.artifacts.map((a) => el("tr", {},
    el("td", {}, a.kind),
    el("td", { class: "wrap" }, a.stored ? el("a", { href: `/api/artifacts/${a.id}` }, a.path) : a.path),
    el("td", { class: "num" }, count(a.size)),
    el("td", { class: "arch" }, a.sha256.slice(0, 16)),
    el("td", {}, a.created))));
  $("user-attrs").textContent = JSON.stringify(trial.user_attrs, null, 2);
  $("system-attrs").textContent = JSON.stringify(trial.system_attrs, null, 2);
  drawExclude();
  drawArch();
}

async function load() {
  trial = await api(`/api/studies/${STUDY_ID}/trials/${NUMBER}`);
  draw();
  $("loading").hidden = true;
  await drawCurves();
  markReady();
}

load().catch((error) => {
  $("loading").hidden = true;
  $("error").textContent = `cannot load the trial: ${error.message}`;
});
poll(async () => { if (trial && !["COMPLETE", "FAILED", "PRUNED"].includes(trial.state)) await load(); });
