// `kvtier up`: the whole stack on this machine (Redis and NATS from the environment or started
// here), its addresses printed, an optional demo Generate, and a clean stop on Ctrl-C.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalStackError, MAX_WORKERS_PER_KIND, startStack, type Stack, type StackProcess } from "@kvtier/local-stack";
import { MIN_SERVICE_TOKEN_CHARS } from "@kvtier/platform";
import { envValue, flagString, intFlag, parseCommandLine, type FlagSpec } from "../args.js";
import { EXIT_FAILURE, reportFailure } from "../rpc-failure.js";
import { UsageError } from "../usage-error.js";
import { callGenerate } from "./generate.js";

/** Tokens the demo generates (greedy). */
const DEMO_MAX_TOKENS = 64;
/** Tenant of the dev API key `up` creates. */
const DEV_TENANT = "dev";
/** Exit status after a second Ctrl-C (the orphan guard kills the children on exit). */
const EXIT_INTERRUPTED = 130;
/** Logs go under `.kvtier/logs/` in the repository (git-ignored); src|dist/commands → repo root. */
const LOGS_ROOT = fileURLToPath(new URL("../../../../.kvtier/logs/", import.meta.url));

const UP_FLAGS = {
  prefill: { type: "string" },
  decode: { type: "string" },
  "block-size": { type: "string" },
  demo: { type: "string" },
  "exit-after-demo": { type: "boolean" },
  "api-key": { type: "string" },
  "router-port": { type: "string" },
  "log-dir": { type: "string" },
  verbose: { type: "boolean" },
} as const satisfies FlagSpec;

/** A parsed `up` command line. */
export interface UpCommand {
  prefillWorkers: number;
  decodeWorkers: number;
  blockSize: number | undefined;
  /** Prompt of the demo Generate, if any. */
  demo: string | undefined;
  exitAfterDemo: boolean;
  /** The dev API key (tenant "dev"). */
  apiKey: string;
  /** Router port; 0 = ephemeral. */
  routerPort: number;
  logDir: string;
  /** Echo every service's log lines. */
  verbose: boolean;
  /** KVTIER_SERVICE_TOKEN from the environment (extra services started by hand can then join); undefined = a fresh one. */
  serviceToken: string | undefined;
  /** From REDIS_URL / NATS_URL; undefined = start one. */
  redisUrl: string | undefined;
  natsUrl: string | undefined;
}

/** Parse `up` arguments; throws a UsageError naming the flag at fault. */
export function parseUpArgs(argv: string[], env: Record<string, string | undefined>): UpCommand {
  const { values, positionals } = parseCommandLine(argv, UP_FLAGS);
  if (positionals.length > 0) throw new UsageError(positionals[0], "unexpected argument (up takes only flags)");
  const demo = flagString(values, "demo");
  const exitAfterDemo = values["exit-after-demo"] === true;
  if (demo !== undefined && demo.trim() === "") throw new UsageError("--demo", "expected a prompt");
  if (exitAfterDemo && demo === undefined) throw new UsageError("--exit-after-demo", 'needs --demo "prompt"');
  const int = (flag: string, min: number, max?: number): number | undefined => {
    const raw = flagString(values, flag);
    return raw === undefined ? undefined : intFlag(`--${flag}`, raw, min, max);
  };
  return {
    prefillWorkers: int("prefill", 0, MAX_WORKERS_PER_KIND) ?? 1,
    decodeWorkers: int("decode", 1, MAX_WORKERS_PER_KIND) ?? 1,
    blockSize: int("block-size", 1),
    demo,
    exitAfterDemo,
    apiKey: flagString(values, "api-key") ?? `dev-${randomBytes(8).toString("hex")}`,
    routerPort: int("router-port", 0, 65_535) ?? 0,
    logDir: flagString(values, "log-dir") ?? join(LOGS_ROOT, new Date().toISOString().replace(/[:.]/g, "-")),
    verbose: values["verbose"] === true,
    serviceToken: serviceTokenFromEnv(env),
    redisUrl: envValue(env, "REDIS_URL"),
    natsUrl: envValue(env, "NATS_URL"),
  };
}

function serviceTokenFromEnv(env: Record<string, string | undefined>): string | undefined {
  const token = envValue(env, "KVTIER_SERVICE_TOKEN");
  if (token !== undefined && token.length < MIN_SERVICE_TOKEN_CHARS) {
    throw new UsageError(
      "KVTIER_SERVICE_TOKEN",
      `must have at least ${MIN_SERVICE_TOKEN_CHARS} characters (or leave it unset: up generates one)`,
    );
  }
  return token;
}

const say = (line = ""): boolean => process.stdout.write(`${line}\n`);

/** Run `up`; resolves with the exit status once the stack is stopped. */
export async function runUp(cmd: UpCommand): Promise<number> {
  const interrupted = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted.signal.aborted) process.exit(EXIT_INTERRUPTED);
    process.stderr.write(`\n${signal}: stopping the stack (again to force)\n`);
    interrupted.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  say(`starting kvtier: ${cmd.decodeWorkers} decode, ${cmd.prefillWorkers} prefill worker(s); logs in ${cmd.logDir}`);
  let stack: Stack;
  try {
    stack = await startStack({
      redisUrl: cmd.redisUrl,
      natsUrl: cmd.natsUrl,
      prefillWorkers: cmd.prefillWorkers,
      decodeWorkers: cmd.decodeWorkers,
      blockSize: cmd.blockSize,
      apiKeys: { [cmd.apiKey]: DEV_TENANT },
      allowAnonymous: true,
      serviceToken: cmd.serviceToken,
      logDir: cmd.logDir,
      echo: cmd.verbose,
      serviceEnv: { router: { KVTIER_ROUTER_PORT: String(cmd.routerPort) } },
    });
  } catch (err) {
    if (err instanceof LocalStackError && err.code === "MISSING_BINARY") {
      process.stderr.write(`error: ${err.message}\n  (or set REDIS_URL and NATS_URL to use running servers)\n`);
      return EXIT_FAILURE;
    }
    return reportFailure(err);
  }

  let stopping = false;
  for (const p of stack.processes)
    void p.exited.then((code) => stopping || process.stderr.write(`warning: ${p.name} exited (code ${code}); log: ${p.logFile}\n`));
  try {
    printStack(stack, cmd);
    if (cmd.demo !== undefined && !interrupted.signal.aborted) {
      const ok = await runDemo(stack, cmd.apiKey, cmd.demo, interrupted.signal);
      if (cmd.exitAfterDemo) return ok ? 0 : EXIT_FAILURE;
    }
    if (!interrupted.signal.aborted) {
      say("Ctrl-C stops everything.");
      await new Promise((resolve) => interrupted.signal.addEventListener("abort", resolve, { once: true }));
    }
    return 0;
  } finally {
    stopping = true;
    await stack.stop();
    say("stopped.");
  }
}

function describeProcess(p: StackProcess): string {
  const grpc = p.port === undefined ? "" : `  grpc 127.0.0.1:${p.port}`;
  const metrics = p.metricsPort === undefined ? "" : `  metrics http://127.0.0.1:${p.metricsPort}/metrics`;
  return `  ${p.name.padEnd(10)} pid ${String(p.pid).padEnd(8)}${grpc}${metrics}`;
}

function printStack(stack: Stack, cmd: UpCommand): void {
  say(`kvtier is up (namespace ${stack.namespace})`);
  say(`  ${"redis".padEnd(10)} ${stack.redisUrl}${cmd.redisUrl === undefined ? " (started for this stack)" : ""}`);
  say(`  ${"nats".padEnd(10)} ${stack.natsUrl}${cmd.natsUrl === undefined ? " (started for this stack)" : ""}`);
  for (const p of stack.processes) say(describeProcess(p));
  say(`router: ${stack.routerAddress}  (dev API key ${cmd.apiKey} -> tenant "${DEV_TENANT}"; anonymous calls allowed)`);
  say(`logs:   ${stack.logDir}`);
  // the internal endpoints' credential: in a file only its owner reads, never on the terminal
  const tokenFile = join(stack.logDir, "service-token");
  writeFileSync(tokenFile, `${stack.serviceToken}\n`, { mode: 0o600 });
  say(`service token (kvstore, workers, debug pages): ${tokenFile}`);
  say("try it from another shell:");
  say(`  export KVTIER_ROUTER=${stack.routerAddress}`);
  say(`  export KVTIER_API_KEY=${cmd.apiKey}`);
  say(`  pnpm kvtier generate "Once upon a time" --max-tokens 32`);
}

/** One greedy Generate through the router: the text as it streams, then the usage JSON. */
async function runDemo(stack: Stack, apiKey: string, prompt: string, signal: AbortSignal): Promise<boolean> {
  say();
  say(`demo: generate ${JSON.stringify(prompt)} --max-tokens ${DEMO_MAX_TOKENS}`);
  try {
    const request = {
      prompt,
      maxTokens: DEMO_MAX_TOKENS,
      sampling: { temperature: 0, topP: 0, seed: 0 },
      stop: [],
      logprobs: 0,
      requestId: "",
      addBos: true,
      codec: "",
      policy: "",
      sessionId: "",
    };
    process.stdout.write(prompt);
    const { text: _text, ...usage } = await callGenerate(
      { addresses: [stack.routerAddress], apiKey },
      request,
      (t) => process.stdout.write(t),
      signal,
    );
    say();
    say(`usage: ${JSON.stringify(usage)}`);
    return true;
  } catch (err) {
    say();
    reportFailure(err);
    say("demo failed");
    return false;
  }
}
