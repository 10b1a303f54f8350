// Builds the SDK (dist/index.js, an ES module, plus .d.ts from tsc) and the demo page
// (dist/demo/, served by the edge's static_dir). Run by `npm run build` and the tests.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });

execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", root],
             { stdio: "inherit" });
await esbuild.build({
  entryPoints: [join(root, "src/index.ts")],
  outfile: join(dist, "index.js"),
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "neutral",
  sourcemap: true,
});

const demo = join(root, "demo");
const demoOut = join(dist, "demo");
if (existsSync(join(demo, "main.ts"))) await buildDemo();

async function buildDemo() {
  mkdirSync(demoOut, { recursive: true });
  await esbuild.build({
    entryPoints: [join(demo, "main.ts")],
    outfile: join(demoOut, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    sourcemap: true,
  });
  for (const file of ["index.html", "style.css"]) copyFileSync(join(demo, file), join(demoOut, file));
}
