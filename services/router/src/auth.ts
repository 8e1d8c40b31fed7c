// Caller authentication: an API key in the metadata maps to a tenant. Nothing in the request
// body or other headers can choose the tenant.
import type { Metadata } from "@grpc/grpc-js";
import { KvtierError } from "@kvtier/platform";

/** The tenant of calls without a key, where the deployment allows them. */
const ANONYMOUS_TENANT = "anonymous";

function keyOf(md: Metadata): string | undefined {
  const auth = md.get("authorization")[0];
  if (typeof auth === "string" && auth.trim() !== "") {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (!m) throw new KvtierError("UNAUTHENTICATED", 'authorization: expected "Bearer <api key>"', { field: "authorization" });
    return m[1].trim();
  }
  const key = md.get("x-api-key")[0];
  return typeof key === "string" && key.trim() !== "" ? key.trim() : undefined;
}

/** The caller's tenant, or UNAUTHENTICATED. */
export function authenticate(md: Metadata, apiKeys: ReadonlyMap<string, string>, allowAnonymous: boolean): string {
  const key = keyOf(md);
  if (key === undefined) {
    if (allowAnonymous) return ANONYMOUS_TENANT;
    throw new KvtierError("UNAUTHENTICATED", 'missing API key (metadata "authorization: Bearer <key>")', { field: "authorization" });
  }
  const tenant = apiKeys.get(key);
  if (tenant === undefined) throw new KvtierError("UNAUTHENTICATED", "unknown API key", { field: "authorization" });
  return tenant;
}
