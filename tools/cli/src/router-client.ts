// The CLI's connection to the router's KvTierService: address and API key from flags or the
// environment, one grpc-js client with the project's channel options, bearer-key metadata.
import { Metadata } from "@grpc/grpc-js";
import { GRPC_OPTIONS, insecureCredentials } from "@kvtier/platform";
import { KvTierServiceClient } from "@kvtier/proto";
import { envValue, flagString, hostPortFlag, type FlagSpec, type FlagValues } from "./args.js";

/** Where `generate` and `tokenize` go when neither --router nor KVTIER_ROUTER says. */
export const DEFAULT_ROUTER_ADDRESS = "127.0.0.1:50051";

/** The flags every router command takes. */
export const ROUTER_FLAGS = {
  router: { type: "string" },
  "api-key": { type: "string" },
} as const satisfies FlagSpec;

/** A router to call and the API key to present (none: anonymous). */
export interface RouterTarget {
  address: string;
  apiKey: string | undefined;
}

/** --router, else KVTIER_ROUTER, else the default; --api-key, else KVTIER_API_KEY. */
export function routerTarget(values: FlagValues, env: Record<string, string | undefined>): RouterTarget {
  const flag = flagString(values, "router");
  const address = flag !== undefined ? hostPortFlag("--router", flag) : envValue(env, "KVTIER_ROUTER") ?? DEFAULT_ROUTER_ADDRESS;
  if (flag === undefined && address !== DEFAULT_ROUTER_ADDRESS) hostPortFlag("KVTIER_ROUTER", address);
  return { address, apiKey: flagString(values, "api-key") ?? envValue(env, "KVTIER_API_KEY") };
}

/** A client for the router at `address`. Close it when done. */
export function connectRouter(address: string): KvTierServiceClient {
  return new KvTierServiceClient(address, insecureCredentials(), GRPC_OPTIONS);
}

/** `authorization: Bearer <key>` when there is a key. */
export function authMetadata(apiKey: string | undefined): Metadata {
  const metadata = new Metadata();
  if (apiKey !== undefined) metadata.set("authorization", `Bearer ${apiKey}`);
  return metadata;
}
