// Bundles each view in src/views/ to an ES module in ../interp_widgets/static/.
//   node build.mjs            minified (what wheels ship)
//   node build.mjs --dev      inline source maps
//   node build.mjs --watch    rebuild on change (use with ANYWIDGET_HMR=1)
import * as esbuild from "esbuild";

const dev = process.argv.includes("--dev");
const watch = process.argv.includes("--watch");

/** @type {import("esbuild").BuildOptions} */
const options = {
  entryPoints: {
    token_heatmap: "src/views/token_heatmap.ts",
    attribution: "src/views/attribution.ts",
    neuron_panel: "src/views/neuron_panel.ts",
    attention: "src/views/attention.ts",
    logit_lens: "src/views/logit_lens.ts",
    dla: "src/views/dla.ts",
    patching: "src/views/patching.ts",
  },
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
