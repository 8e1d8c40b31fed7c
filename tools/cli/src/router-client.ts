// The CLI's connection to the router's KvTierService: addresses and API key from flags or the
// environment, one grpc-js client with the project's channel options, bearer-key metadata. Given
// several router replicas, a call goes to the first one that can be reached.
import { Metadata, status } from "@grpc/grpc-js";
import { GRPC_OPTIONS, insecureCredentials, isGrpcError } from "@kvtier/platform";
import { KvTierServiceClient } from "@kvtier/proto";
import { envValue, flagString, hostPortFlag, type FlagSpec, type FlagValues } from "./args.js";

/** Where `generate` and `tokenize` go when neither --router nor KVTIER_ROUTER says. */
const DEFAULT_ROUTER_ADDRESS = "127.0.0.1:50051";

/** The flags every router command takes. */
export const ROUTER_FLAGS = {
  router: { type: "string" },
  "api-key": { type: "string" },
} as const satisfies FlagSpec;

/** Router replicas to call, tried in order, and the API key to present (none: anonymous). */
export interface RouterTarget {
  addresses: string[];
  apiKey: string | undefined;
}

/** --router, else KVTIER_ROUTER, else the default: HOST:PORT, or several separated by commas; --api-key, else KVTIER_API_KEY. */
export function routerTarget(values: FlagValues, env: Record<string, string | undefined>): RouterTarget {
  const flag = flagString(values, "router");
  const [name, raw] = flag !== undefined ? ["--router", flag] : ["KVTIER_ROUTER", envValue(env, "KVTIER_ROUTER") ?? DEFAULT_ROUTER_ADDRESS];
  const addresses = raw.split(",").map((a) => hostPortFlag(name, a));
  return { addresses, apiKey: flagString(values, "api-key") ?? envValue(env, "KVTIER_API_KEY") };
}

/**
 * Run `attempt` against each router of `target` in turn until one can be reached: a call that
 * fails UNAVAILABLE before the router answered anything (`reached` not called) moves on to the
 * next replica; any other outcome is final. Each client is closed after its attempt.
 */
export async function onFirstReachableRouter<T>(
  target: RouterTarget,
  attempt: (client: KvTierServiceClient, reached: () => void) => Promise<T>,
): Promise<T> {
  let lastErr: unknown;
  for (const address of target.addresses) {
    const client = connectRouter(address);
    let answered = false;
    try {
      return await attempt(client, () => (answered = true));
    } catch (err) {
      if (answered || !isGrpcError(err) || err.code !== status.UNAVAILABLE) throw err;
      lastErr = err;
    } finally {
      client.close();
    }
  }
  throw lastErr;
}

/** A client for the router at `address`. Close it when done. */
function connectRouter(address: string): KvTierServiceClient {
  return new KvTierServiceClient(address, insecureCredentials(), GRPC_OPTIONS);
}

/** `authorization: Bearer <key>` when there is a key. */
export function authMetadata(apiKey: string | undefined): Metadata {
  const metadata = new Metadata();
  if (apiKey !== undefined) metadata.set("authorization", `Bearer ${apiKey}`);
  return metadata;
}
