// Starts the real kvstore process (services/kvstore/dist/main.js, built by `pnpm build`) on
// ephemeral ports for the client's tests, and reads its metrics.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ServiceToken } from "../../src/service-token.js";

const MAIN = fileURLToPath(new URL("../../../../services/kvstore/dist/main.js", import.meta.url));
/** How long a kvstore may take to print its ready line. */
const READY_TIMEOUT_MS = 15_000;

/** A running kvstore. */
export interface KvStore {
  endpoint: string;
  /** The service credential it was started with. */
  token: ServiceToken;
  fastPort: number;
  metricsPort: number;
  logs(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Spawn a kvstore with `env` added (ports forced to 0). */
export async function startKvStore(env: Record<string, string>): Promise<KvStore> {
  const token = ServiceToken.generate();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      KVTIER_SERVICE_TOKEN: token.value,
      KVTIER_KVSTORE_PORT: "0",
      KVTIER_KVSTORE_FAST_PORT: "0",
      KVTIER_METRICS_PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const ready = await new Promise<{ port: number; fastPort: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kvstore not ready within ${READY_TIMEOUT_MS} ms:\n${stderr}`)), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!line.startsWith("{")) return;
      const msg = JSON.parse(line) as { event?: string; port: number; fastPort: number; metricsPort: number };
      if (msg.event !== "ready") return;
      clearTimeout(timer);
      resolve(msg);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kvstore exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  return {
    endpoint: `127.0.0.1:${ready.port}`,
    token,
    fastPort: ready.fastPort,
    metricsPort: ready.metricsPort,
    logs: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

/** The sum of one metric's samples whose labels include `labels` (0 when none is exposed). */
export async function metric(store: KvStore, name: string, labels: Record<string, string> = {}): Promise<number> {
  const page = await (await fetch(`http://127.0.0.1:${store.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of page.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? "").includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
