// `kvtier tokenize "<text>"`: the router's Tokenize, printed as token ids (or JSON with pieces).
import type { TokenizeRequest, TokenizeResponse } from "@kvtier/proto";
import { onePositional, parseCommandLine, type FlagSpec } from "../args.js";
import { reportFailure } from "../rpc-failure.js";
import { ROUTER_FLAGS, authMetadata, onFirstReachableRouter, routerTarget, type RouterTarget } from "../router-client.js";

const TOKENIZE_FLAGS = {
  ...ROUTER_FLAGS,
  "no-bos": { type: "boolean" },
  json: { type: "boolean" },
} as const satisfies FlagSpec;

/** A parsed `tokenize` command line. */
export interface TokenizeCommand {
  target: RouterTarget;
  request: TokenizeRequest;
  json: boolean;
}

/** Parse `tokenize` arguments; throws a UsageError naming the flag at fault. */
export function parseTokenizeArgs(argv: string[], env: Record<string, string | undefined>): TokenizeCommand {
  const { values, positionals } = parseCommandLine(argv, TOKENIZE_FLAGS);
  return {
    target: routerTarget(values, env),
    request: { text: onePositional(positionals, "<text>"), addBos: values["no-bos"] !== true },
    json: values["json"] === true,
  };
}

/** Run `tokenize`; resolves with the exit status. */
export async function runTokenize(cmd: TokenizeCommand): Promise<number> {
  try {
    const response = await onFirstReachableRouter(
      cmd.target,
      (client, reached) =>
        new Promise<TokenizeResponse>((resolve, reject) => {
          const call = client.tokenize(cmd.request, authMetadata(cmd.target.apiKey), (err, res) => (err ? reject(err) : resolve(res)));
          call.on("metadata", reached);
        }),
    );
    const line = cmd.json ? JSON.stringify({ token_ids: response.tokenIds, pieces: response.pieces }) : response.tokenIds.join(" ");
    process.stdout.write(`${line}\n`);
    return 0;
  } catch (err) {
    return reportFailure(err);
  }
}
