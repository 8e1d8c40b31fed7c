#!/usr/bin/env node
// The kvtier CLI's one entry point: picks the command, reads the environment, maps a bad command
// line to exit 2 with a message naming the flag.
import { parseGenerateArgs, runGenerate } from "./commands/generate.js";
import { parseTokenizeArgs, runTokenize } from "./commands/tokenize.js";
import { parseUpArgs, runUp } from "./commands/up.js";
import { COMMAND_HELP, MAIN_HELP } from "./help.js";
import { EXIT_RPC_ERROR, reportFailure } from "./rpc-failure.js";
import { UsageError } from "./usage-error.js";

/** Exit status of a bad command line. */
const EXIT_USAGE = EXIT_RPC_ERROR;

async function run(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(MAIN_HELP);
    return command === undefined ? EXIT_USAGE : 0;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const help = COMMAND_HELP[command];
    if (help !== undefined) {
      process.stdout.write(help);
      return 0;
    }
  }
  switch (command) {
    case "up":
      return runUp(parseUpArgs(rest, env));
    case "generate": {
      const cmd = parseGenerateArgs(rest, env);
      const interrupted = new AbortController();
      process.once("SIGINT", () => interrupted.abort());
      return runGenerate(cmd, interrupted.signal);
    }
    case "tokenize":
      return runTokenize(parseTokenizeArgs(rest, env));
    case "eval-quality":
      return (await import("./commands/eval-quality.js")).runEvalQualityCommand(rest, env);
    case "replay":
      return (await import("./commands/replay.js")).runReplayCommand(rest, env);
    default:
      throw new UsageError(command, "unknown command (up, generate, tokenize; see --help)");
  }
}

run(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`kvtier: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    process.exit(reportFailure(err));
  },
);
