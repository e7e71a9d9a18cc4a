// Bundles each view in src/views/ to an ES module in ../interp_widgets/static/.
//   node build.mjs            minified (what wheels ship)
//   node build.mjs --dev      inline source maps
//   node build.mjs --watch    rebuild on change (use with ANYWIDGET_HMR=1)
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const dev = process.argv.includes("--dev");
const watch = process.argv.includes("--watch");

/** @type {import("esbuild").BuildOptions} */
const options = {
  // One bundle per view: every src/views/NAME.ts becomes static/NAME.js.
  entryPoints: Object.fromEntries(
    readdirSync(new URL("src/views/", import.meta.url))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => [f.slice(0, -3), `src/views/${f}`]),
  ),
  outdir: "../interp_widgets/static",
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "none",
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
