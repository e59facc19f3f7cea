// Shared helpers of the dashboard pages. User-supplied strings (study names, params, notes, attrs)
// are only ever inserted with textContent (el(), text nodes) or escaped for plotly hover labels
// (esc()); nothing from the API is parsed as HTML.

export const CONFIG = JSON.parse(document.getElementById("nas-config").textContent);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Escape for plotly labels, which interpret a small subset of HTML.
export function esc(value) {
  return String(value).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

export async function api(path, options = {}) {
  const init = { headers: { Accept: "application/json" }, ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(path, init);
  let payload = null;
  try { payload = await response.json(); } catch { payload = null; }
  if (!response.ok) {
    let detail = payload && payload.detail !== undefined ? payload.detail : response.statusText;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
    throw new ApiError(response.status, String(detail));
  }
  return payload;
}

export function fmt(value, digits = 6) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return value.toLocaleString("en-US").replace(/,/g, "\u202f");
    const a = Math.abs(value);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(digits)));
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function count(n) { return Number(n).toLocaleString("en-US"); }

export function ago(iso) {
  if (!iso) return "";
  const seconds = (Date.now() - Date.parse(iso)) / 1000;
  if (seconds < 5) return "just now";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(iso).toISOString().slice(0, 16).replace("T", " ");
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 1) return `${(seconds * 1000).toFixed(0)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

export function setLive(state, text) {
  const node = document.getElementById("live");
  if (!node) return;
  node.textContent = text;
  node.classList.toggle("offline", state === "offline");
}

// Calls fn every CONFIG.poll_ms while the page is visible; never overlaps two calls.
export function poll(fn) {
  let timer = null;
  const tick = async () => {
    timer = null;
    if (!document.hidden) {
      try {
        await fn();
        setLive("ok", `live \u00b7 ${new Date().toLocaleTimeString()}`);
      } catch (error) {
        setLive("offline", `offline: ${error.message} \u00b7 retrying`);
      }
    }
    timer = setTimeout(tick, CONFIG.poll_ms);
  };
  timer = setTimeout(tick, CONFIG.poll_ms);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer !== null) { clearTimeout(timer); tick(); }
  });
}

// Plotly rendering that reports completion on the plot's element: data-rendered="1",
// data-points (markers drawn) and data-renders (how many times it was drawn). Tests and the
// benchmark wait on these attributes instead of sleeping.
export async function render(div, traces, layout, points) {
  const Plotly = await plotlyFor(traces);
  const full = {
    margin: { l: 60, r: 20, t: 30, b: 50 },
    hovermode: "closest",
    font: { size: 12 },
    ...layout,
  };
  await Plotly.react(div, traces, full, { responsive: true, displaylogo: false });
  div.dataset.points = String(points);
  div.dataset.renders = String(Number(div.dataset.renders || 0) + 1);
  div.dataset.rendered = "1";
  const overlay = div.parentElement && div.parentElement.querySelector(".overlay");
  if (overlay) overlay.textContent = points === 0 ? "no data yet" : "";
}

export function states(counts) {
  const order = ["COMPLETE", "RUNNING", "WAITING", "PRUNED", "FAILED"];
  const parts = order.filter((s) => counts[s]).map((s) => `${count(counts[s])} ${s.toLowerCase()}`);
  return parts.length ? parts.join(" \u00b7 ") : "no trials";
}

export function markReady() {
  if (document.body.dataset.ready === "1") return;
  window.__nasReady = performance.now();
  document.body.dataset.ready = "1";
}

// Resolves once the browser has had the chance to paint what the page holds now (a frame, then a
// task; at most ~100 ms, since a page in a background tab gets no frames).
export function afterPaint() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 100);
    requestAnimationFrame(() => setTimeout(() => { clearTimeout(timer); resolve(); }, 0));
  });
}

// plotly.js is the dashboard's partial bundle: ES modules sharing one plotly.js instance
// (nas/dashboard/_bundle.py, CONFIG.plotly). Pages with plots preload its main entry
// (<link rel="modulepreload">: fetched while the API requests run, not evaluated) and import it
// on first use, so that its evaluation never holds back what needs no plotly (the study page
// imports it once its table is on screen). A trace type of another entry (scatter3d) imports
// that entry first; a type no entry registers is an error, not plotly's silent fallback to an
// empty scatter.
let plotlyPromise = null;
const entries = new Map();

function importOnce(url) {
  if (!entries.has(url)) {
    entries.set(url, import(url).catch((error) => { entries.delete(url); throw error; }));
  }
  return entries.get(url);
}

export function plotlyReady() {
  if (plotlyPromise === null) {
    plotlyPromise = importOnce(CONFIG.plotly.url).then((module) => {
      performance.mark("nas-plotly");
      return module.default;
    });
    plotlyPromise.catch(() => { plotlyPromise = null; }); // a later call tries again
  }
  return plotlyPromise;
}

// plotly.js with every trace type of `traces` registered.
export async function plotlyFor(traces) {
  const Plotly = await plotlyReady();
  const more = new Set();
  for (const trace of traces) {
    const type = trace.type || "scatter";
    if (CONFIG.plotly.traces.includes(type)) continue;
    const url = CONFIG.plotly.more[type];
    if (!url) throw new Error(`trace type ${type} is not in the dashboard's plotly.js bundle`);
    more.add(url);
  }
  await Promise.all([...more].map(importOnce));
  return Plotly;
}
