// Builds the partial plotly.js bundle served by the nas dashboard, into
// nas/dashboard/static/vendor/plotly/ (committed). Development time only: `make plotly-bundle`
// installs the pinned packages of package-lock.json from the npm registry and runs this; the
// dashboard itself never downloads anything.
//
// Two ES-module entries share one plotly.js instance (registry, layout, axes) through a common
// chunk, the way plotly.js's own build bundles lib/core plus trace modules (esbuild, its aliases
// and defines, see node_modules/plotly.js/esbuild-config.js):
//   plotly.mjs     core + every trace type the pages draw, but scatter3d;
//   plotly-3d.mjs  registers scatter3d (the 3-D Pareto front) into that same instance; a page
//                  imports it only when it draws one. Its WebGL 3-D engine would otherwise add
//                  ~0.4 s of evaluation to every cold page load.
// The trace types a page asks for must be listed here: nas/dashboard checks every figure it
// draws against manifest.json, and tests/dashboard_tests check the pages against it.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(HERE, "../../nas/dashboard/static/vendor/plotly");
const MAIN = "plotly";
const ENTRIES = {
  // scatter is part of plotly.js's core: always registered.
  [MAIN]: ["scatter", "scattergl", "bar", "heatmap", "parcoords"],
  "plotly-3d": ["scatter3d"],
};
const GENERATED = /^(plotly.*\.mjs|manifest\.json|LICENSE\.txt|THIRD-PARTY-LICENSES\.txt)$/;

const require = createRequire(import.meta.url);
const plotlyPkg = require("plotly.js/package.json");
const esbuildVersion = esbuild.version;

function entrySource(traces) {
  const extra = traces.filter((t) => t !== "scatter");
  return [
    'import Plotly from "plotly.js/lib/core";',
    ...extra.map((t, i) => `import t${i} from "plotly.js/lib/${t}";`),
    `Plotly.register([${extra.map((_, i) => `t${i}`).join(", ")}]);`,
    "export default Plotly;",
    "",
  ].join("\n");
}

// Virtual entry modules: nothing but the list above decides what goes in.
const entriesPlugin = {
  name: "nas-entries",
  setup(build) {
    build.onResolve({ filter: /^nas-entry:/ }, (args) => ({
      path: args.path.slice("nas-entry:".length),
      namespace: "nas-entry",
    }));
    build.onLoad({ filter: /.*/, namespace: "nas-entry" }, (args) => ({
      contents: entrySource(ENTRIES[args.path]),
      loader: "js",
      resolveDir: HERE,
    }));
  },
};

const banner = `/**
* plotly.js v${plotlyPkg.version}, partial bundle of the nas dashboard (scripts/plotly_bundle)
* Copyright 2012-2026, Plotly, Inc.
* All rights reserved.
* Licensed under the MIT license (LICENSE.txt); bundled packages: THIRD-PARTY-LICENSES.txt
*/`;

fs.mkdirSync(OUT, { recursive: true });
for (const name of fs.readdirSync(OUT)) if (GENERATED.test(name)) fs.rmSync(path.join(OUT, name));

const result = await esbuild.build({
  entryPoints: Object.keys(ENTRIES).map((name) => ({ in: `nas-entry:${name}`, out: name })),
  outdir: OUT,
  outExtension: { ".js": ".mjs" },
  chunkNames: "plotly-shared-[hash]",
  format: "esm",
  splitting: true,
  bundle: true,
  minify: true,
  legalComments: "none", // the licences are collected into THIRD-PARTY-LICENSES.txt below
  banner: { js: banner },
  plugins: [entriesPlugin],
  // As plotly.js's esbuild-config.js (stream-browserify is only needed by traces not bundled).
  alias: { regl: "@plotly/regl" },
  define: { global: "window", "define.amd": "false", "process.env.NODE_DEBUG": "false" },
  loader: { ".css": "empty" }, // maplibre-gl's CSS, required by map traces only
  target: "es2020",
  metafile: true,
  logLevel: "warning",
});

// The licence of every npm package that ended up in the bundle.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const parts = input.split("node_modules/");
  if (parts.length < 2) continue;
  const segs = parts[parts.length - 1].split("/");
  const name = segs[0].startsWith("@") ? `${segs[0]}/${segs[1]}` : segs[0];
  const dir = path.resolve(HERE, input.slice(0, input.lastIndexOf("node_modules/")), "node_modules", name);
  packages.set(`${name}`, dir);
}
// The package's licence file; failing that, the licence section of its README; failing that,
// what its package.json says (licence and author).
function licenceText(dir, pkg) {
  const names = fs.readdirSync(dir);
  const file = names.find((f) => /^(licen[sc]e|copying)([-.][\w.-]+)?$/i.test(f));
  if (file) return fs.readFileSync(path.join(dir, file), "utf8").trim();
  const readme = names.find((f) => /^readme(\.md|\.markdown|\.txt)?$/i.test(f));
  if (readme) {
    const text = fs.readFileSync(path.join(dir, readme), "utf8");
    const section = text.match(/^#+\s*licen[sc]e\b.*\n([\s\S]*?)(?=^#+\s|(?![\s\S]))/im);
    if (section && section[1].trim()) return `(from ${readme})\n${section[1].trim()}`;
  }
  const author = typeof pkg.author === "string" ? pkg.author : pkg.author?.name;
  return `(no licence text in the package) license: ${pkg.license}${author ? `, author: ${author}` : ""}`;
}

const notices = [];
for (const name of [...packages.keys()].sort()) {
  const dir = packages.get(name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const license = typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license);
  notices.push(`${"=".repeat(78)}\n${name}@${pkg.version} (${license})\n${"=".repeat(78)}\n${licenceText(dir, pkg)}\n`);
}
fs.writeFileSync(
  path.join(OUT, "THIRD-PARTY-LICENSES.txt"),
  `Packages bundled into the nas dashboard's plotly.js files (${packages.size}), with their licences.\n\n${notices.join("\n")}`,
);
fs.copyFileSync(require.resolve("plotly.js/LICENSE"), path.join(OUT, "LICENSE.txt"));

// What the server and the tests read: entries, their traces and static imports, file digests.
const files = {};
const entries = {};
for (const [file, info] of Object.entries(result.metafile.outputs)) {
  const name = path.basename(file);
  const bytes = fs.readFileSync(file);
  files[name] = { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  if (info.entryPoint) {
    entries[name] = {
      traces: ENTRIES[info.entryPoint.slice("nas-entry:".length)],
      imports: info.imports.filter((i) => i.kind === "import-statement").map((i) => path.basename(i.path)),
    };
  }
}
const manifest = {
  "plotly.js": plotlyPkg.version,
  esbuild: esbuildVersion,
  main: `${MAIN}.mjs`,
  entries,
  files: Object.fromEntries(Object.entries(files).sort()),
};
fs.writeFileSync(path.join(OUT, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
for (const [name, f] of Object.entries(manifest.files)) console.log(`${name}: ${(f.bytes / 1e6).toFixed(2)} MB`);
