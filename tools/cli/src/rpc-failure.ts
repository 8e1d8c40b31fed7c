// How a failed command is shown: a failed call as `error: <STATUS_NAME>: <details>` (the status
// name from the gRPC code, via platform's codeNameOf), anything else as `error: <message>`.
import { codeNameOf, isGrpcError, messageOf } from "@kvtier/platform";

/** Exit status of a command whose call failed with a gRPC status (and of a bad command line). */
export const EXIT_RPC_ERROR = 2;
/** Exit status of any other failure. */
export const EXIT_FAILURE = 1;

/** The one-line message for a failed call, or undefined when `err` is not a gRPC error. */
function describeRpcFailure(err: unknown): string | undefined {
  if (!isGrpcError(err)) return undefined;
  return `error: ${codeNameOf(err.code)}: ${err.details ?? messageOf(err)}`;
}

/** Print `err` to stderr as above; returns the exit status it calls for. */
export function reportFailure(err: unknown): number {
  const rpc = describeRpcFailure(err);
  process.stderr.write(`${rpc ?? `error: ${messageOf(err)}`}\n`);
  return rpc !== undefined ? EXIT_RPC_ERROR : EXIT_FAILURE;
}
