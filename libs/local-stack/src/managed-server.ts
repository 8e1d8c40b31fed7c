// A third-party server (redis-server, nats-server) run as a child on a free loopback port: spawn,
// probe until it answers, stop on demand. Owned by whoever started it; stop() is idempotent.
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { guardChild, terminateGroup } from "./child-guard.js";
import { freePort } from "./free-port.js";
import { LocalStackError, withOutputTail } from "./local-stack-error.js";
import { OutputTail } from "./output-tail.js";
import { probeOnce, type TcpProbe } from "./tcp-probe.js";

/** How long a server may take to answer its probe after spawning. */
const SERVER_READY_TIMEOUT_MS = 15_000;
/** Pause between probe attempts. */
const PROBE_INTERVAL_MS = 50;
/** Grace between SIGTERM and SIGKILL when stopping a server. */
const SERVER_STOP_GRACE_MS = 5_000;
/** Spawns tried when the chosen port was taken between picking and binding it. */
const PORT_CLASH_ATTEMPTS = 3;

/** A server started by the launcher. */
export interface ManagedServer {
  /** Where clients connect, e.g. `redis://127.0.0.1:40123`. */
  readonly url: string;
  /** The bound port. */
  readonly port: number;
  /** The server's pid. */
  readonly pid: number;
  /** SIGTERM, then SIGKILL after a grace; resolves once the process is gone. Idempotent. */
  stop(): Promise<void>;
  /**
   * Kill the server (SIGKILL: what a crash or a node loss does), keep it down `downMs`, and start
   * it again on the same port; resolves once it answers again. A Redis started here comes back
   * empty (no persistence). Throws after stop().
   */
  restart(downMs: number): Promise<void>;
}

/** How to run one kind of server. */
export interface ServerRecipe {
  /** Name used in messages, e.g. "redis-server". */
  name: string;
  /** Absolute path of the binary. */
  binary: string;
  /** Command-line arguments for a given port. */
  args(port: number): string[];
  /** The probe that tells the server serves. */
  probe: TcpProbe;
  /** Client URL for a given port. */
  url(port: number): string;
  /** @default SERVER_READY_TIMEOUT_MS */
  readyTimeoutMs?: number;
}

/** Start `recipe` on a free port and wait until it answers its probe. */
export async function startManagedServer(recipe: ServerRecipe): Promise<ManagedServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOnPort(recipe, port);
    } catch (err) {
      const clash = err instanceof LocalStackError && /address already in use/i.test(err.details.outputTail ?? "");
      if (!clash || attempt >= PORT_CLASH_ATTEMPTS) throw err;
    }
  }
}

/** One spawned process of a server. */
interface Spawned {
  child: ReturnType<typeof spawn>;
  exited: Promise<void>;
}

async function spawnOnPort(recipe: ServerRecipe, port: number): Promise<Spawned> {
  const tail = new OutputTail();
  const child = spawn(recipe.binary, recipe.args(port), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  guardChild(child);
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) =>
      chunk
        .split("\n")
        .filter((l) => l !== "")
        .forEach((l) => tail.push(l)),
    );
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let spawnError: unknown;
  child.once("error", (err) => {
    spawnError = err;
  });

  const deadline = Date.now() + (recipe.readyTimeoutMs ?? SERVER_READY_TIMEOUT_MS);
  for (;;) {
    if (spawnError !== undefined || child.exitCode !== null || child.signalCode !== null) {
      const how =
        spawnError !== undefined
          ? `could not be spawned (${String(spawnError)})`
          : `exited (code ${child.exitCode}, signal ${child.signalCode})`;
      throw new LocalStackError("EXITED_BEFORE_READY", withOutputTail(`${recipe.name} on port ${port} ${how}`, tail.toString()), {
        process: recipe.name,
        outputTail: tail.toString(),
        cause: spawnError,
      });
    }
    if (await probeOnce(port, recipe.probe)) break;
    if (Date.now() > deadline) {
      await terminateGroup(child, exited, SERVER_STOP_GRACE_MS);
      throw new LocalStackError("READY_TIMEOUT", withOutputTail(`${recipe.name} did not answer on port ${port}`, tail.toString()), {
        process: recipe.name,
        outputTail: tail.toString(),
      });
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  return { child, exited };
}

async function startOnPort(recipe: ServerRecipe, port: number): Promise<ManagedServer> {
  let current = await spawnOnPort(recipe, port);
  let stopping: Promise<void> | undefined;
  return {
    url: recipe.url(port),
    port,
    get pid() {
      return current.child.pid as number;
    },
    stop: () => (stopping ??= terminateGroup(current.child, current.exited, SERVER_STOP_GRACE_MS)),
    restart: async (downMs: number) => {
      if (stopping) throw new LocalStackError("BAD_OPTION", `${recipe.name} on port ${port} is stopped`);
      current.child.kill("SIGKILL");
      await current.exited;
      await sleep(downMs);
      current = await spawnOnPort(recipe, port);
    },
  };
}
