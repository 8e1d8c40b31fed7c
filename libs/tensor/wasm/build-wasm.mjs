// Compiles the WebAssembly SIMD codec kernels (assembly/*.ts, AssemblyScript) to
// build/kv-codecs.wasm. Runs as the first step of `pnpm build`; skips the compile when the output
// is newer than every source. The output is a build artifact (gitignored), reproducible from this
// one command: node libs/tensor/wasm/build-wasm.mjs [--force]
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const sources = join(here, "assembly");
const output = join(here, "build", "kv-codecs.wasm");

/** asc flags: speed-optimised release build, SIMD on, no runtime, no imports (abort is compiled out). */
const ASC_FLAGS = [
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "0",
  "--noAssert",
  "--runtime",
  "stub",
  "--enable",
  "simd",
  "--use",
  "abort=",
  "--initialMemory",
  "1",
];

function newestSourceMs() {
  const files = readdirSync(sources)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(sources, f));
  files.push(fileURLToPath(import.meta.url));
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

function upToDate() {
  try {
    return statSync(output).mtimeMs >= newestSourceMs();
  } catch {
    return false;
  }
}

if (process.argv.includes("--force") || !upToDate()) {
  const asc = await import("assemblyscript/asc");
  mkdirSync(dirname(output), { recursive: true });
  const { error, stderr } = await asc.main([join(sources, "index.ts"), "--outFile", output, ...ASC_FLAGS]);
  if (error) {
    process.stderr.write(stderr.toString());
    process.stderr.write(`build-wasm: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`build-wasm: wrote ${output}\n`);
}
