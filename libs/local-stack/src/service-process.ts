// One service process of a stack: spawned from its built entry point, its output sent to a log
// file (and optionally echoed), its ready line awaited, and stopped on request.
import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { guardChild, signalGroup, terminateGroup } from "./child-guard.js";
import { LocalStackError, withOutputTail } from "./local-stack-error.js";
import { OutputTail } from "./output-tail.js";
import { parseReadyLine, type ReadyLine } from "./ready-line.js";
import type { ProcessPlan } from "./service-env.js";
import type { EnvVars, ServiceKind } from "./stack-options.js";

/** A running service of the stack, as callers see it. */
export interface StackProcess {
  /** Unique name in the stack, e.g. "decode-1"; also the id it was given. */
  readonly name: string;
  readonly service: ServiceKind;
  /** The id from the ready line (falls back to `name`). */
  readonly id: string;
  readonly pid: number;
  /** gRPC port (absent for prefill, which serves no gRPC). */
  readonly port: number | undefined;
  /** Prometheus port (`http://127.0.0.1:<metricsPort>/metrics`). */
  readonly metricsPort: number | undefined;
  /** The ready line as printed. */
  readonly ready: Record<string, unknown>;
  /** Where its stdout/stderr go. */
  readonly logFile: string;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
}

/** How to launch one service process. */
export interface LaunchSpec {
  plan: ProcessPlan;
  repoRoot: string;
  env: EnvVars;
  logDir: string;
  readyTimeoutMs: number;
  echo: ((line: string) => void) | undefined;
}

/** A launched service: its public face plus the handle to signal and stop it. */
export interface ServiceHandle {
  info: StackProcess;
  /** Send `signal` to the process (and its group). */
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs: number): Promise<void>;
}

/** The built entry point of a service. */
const serviceEntry = (repoRoot: string, service: ServiceKind): string => join(repoRoot, "services", service, "dist", "main.js");

/** Spawn the service and resolve once it printed its ready line; rejects (and kills it) otherwise. */
export async function launchService(spec: LaunchSpec): Promise<ServiceHandle> {
  const { plan, repoRoot } = spec;
  const entry = serviceEntry(repoRoot, plan.service);
  if (!existsSync(entry)) {
    throw new LocalStackError(
      "SPAWN_FAILED",
      `${plan.name}: ${relative(process.cwd(), entry) || entry} does not exist; build first (pnpm build)`,
      { process: plan.name },
    );
  }
  const logFile = join(spec.logDir, `${plan.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const tail = new OutputTail();
  const child = spawn(process.execPath, [entry], { cwd: repoRoot, env: spec.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  guardChild(child);

  const record = (line: string): void => {
    log.write(`${line}\n`);
    tail.push(line);
    spec.echo?.(`[${plan.name}] ${line}`);
  };
  let onReady: ((ready: ReadyLine) => void) | undefined;
  createInterface({ input: child.stdout }).on("line", (line) => {
    const ready = onReady && parseReadyLine(line);
    if (ready && onReady) {
      onReady(ready);
      onReady = undefined;
    }
    record(line);
  });
  createInterface({ input: child.stderr }).on("line", record);

  // 'close' comes after the output streams ended, so the tail is complete when it fires.
  let spawnError: unknown;
  child.once("error", (err) => {
    spawnError = err;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.once("close", (code) => {
      log.end();
      resolve(code);
    });
  });

  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const fail = (code: "EXITED_BEFORE_READY" | "READY_TIMEOUT", what: string): void => {
      onReady = undefined;
      reject(
        new LocalStackError(code, withOutputTail(`${plan.name} ${what} (log: ${logFile})`, tail.toString()), {
          process: plan.name,
          outputTail: tail.toString(),
          logFile,
          cause: spawnError,
        }),
      );
    };
    const timer = setTimeout(() => {
      signalGroup(child, "SIGKILL");
      fail("READY_TIMEOUT", `printed no ready line within ${spec.readyTimeoutMs} ms`);
    }, spec.readyTimeoutMs);
    onReady = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
    void exited.then((code) => {
      if (onReady === undefined) return;
      clearTimeout(timer);
      fail(
        "EXITED_BEFORE_READY",
        spawnError !== undefined
          ? `could not be spawned (${String(spawnError)})`
          : `exited before it was ready (code ${code}, signal ${child.signalCode})`,
      );
    });
  });

  const info: StackProcess = {
    name: plan.name,
    service: plan.service,
    id: ready.id ?? plan.name,
    pid: child.pid as number,
    port: ready.port,
    metricsPort: ready.metricsPort,
    ready: ready.fields,
    logFile,
    exited,
  };
  return { info, signal: (sig) => signalGroup(child, sig), stop: (graceMs) => terminateGroup(child, exited, graceMs) };
}
