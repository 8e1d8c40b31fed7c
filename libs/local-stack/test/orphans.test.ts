// No orphans: a parent that exits (normally or by an uncaught error) takes its servers with it.
// Runs the built library in a child Node process, so `pnpm build` comes first.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isAlive } from "./fixtures/process-alive.js";

const DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** Run `body` in a child that has imported the library; resolves with what it printed. */
function runParent(body: string): Promise<string> {
  const script = `const ls = await import(${JSON.stringify(DIST)});\n${body}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", () => resolve(out));
  });
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(20);
  return !isAlive(pid);
}

describe("orphan guard", () => {
  it("kills started servers when the parent exits without stopping them", async () => {
    const out = await runParent(
      "const r = await ls.startRedis(); const n = await ls.startNats(); console.log(r.pid, n.pid); process.exit(0);",
    );
    const pids = out.trim().split(" ").map(Number);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(await gone(pid)).toBe(true);
  });

  it("also when the parent dies of an uncaught error", async () => {
    const out = await runParent("const r = await ls.startRedis(); console.log(r.pid); throw new Error('boom');");
    expect(await gone(Number(out.trim()))).toBe(true);
  });
});
