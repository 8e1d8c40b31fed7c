// Starts the real kvstore process (dist/main.js) on ephemeral ports and reads its ready line.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ServiceToken } from "@kvtier/platform";

const MAIN = fileURLToPath(new URL("../../dist/main.js", import.meta.url));
/** How long a kvstore may take to print its ready line. */
const READY_TIMEOUT_MS = 15_000;

/** A running kvstore. */
export interface KvStoreProcess {
  id: string;
  port: number;
  metricsPort: number;
  incarnation: string;
  /** host:port for a KvStoreClient. */
  endpoint: string;
  /** The service credential it was started with. */
  token: ServiceToken;
  /** Everything it logged so far (stderr). */
  logs(): string;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** Send `signal` (SIGKILL: a crash) and wait for the exit; resolves to the signal it died of, or its code. */
  kill(signal?: NodeJS.Signals): Promise<string | number | null>;
}

interface ReadyLine {
  event: string;
  id: string;
  port: number;
  metricsPort: number;
  incarnation: string;
}

/** Spawn a kvstore with `env` added to this process's environment (ports forced to 0). */
export async function startKvStore(env: Record<string, string>): Promise<KvStoreProcess> {
  const token = ServiceToken.generate();
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: { ...process.env, KVTIER_SERVICE_TOKEN: token.value, KVTIER_KVSTORE_PORT: "0", KVTIER_METRICS_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const died = exited.then((code) => child.signalCode ?? code);
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kvstore not ready within ${READY_TIMEOUT_MS} ms:\n${stderr}`)), READY_TIMEOUT_MS);
    lines.on("line", (line) => {
      try {
        const msg = JSON.parse(line) as ReadyLine;
        if (msg.event === "ready") {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        // not a JSON line
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`kvstore exited with ${code} before it was ready:\n${stderr}`));
    });
  });
  const r = await ready;
  return {
    id: r.id,
    port: r.port,
    metricsPort: r.metricsPort,
    incarnation: r.incarnation,
    endpoint: `127.0.0.1:${r.port}`,
    token,
    logs: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return exited;
    },
    kill: async (signal = "SIGKILL") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return died;
    },
  };
}

/** The text of the store's /metrics page. */
export async function scrapeMetrics(p: KvStoreProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`);
  return res.text();
}

/** The value of one sample (`name{labels}`) in a metrics page, or undefined. */
export function sample(page: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of page.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return undefined;
}
