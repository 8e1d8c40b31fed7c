// Which data path a KvStoreClient uses: the fastest one the store announces (Info.data_plane)
// that this process can reach. Shared memory when the store is on this machine (same node id if
// the caller gave one, and the store's probe file readable here with the announced token), else
// the TCP fast port, else the gRPC stream. Each step falls back to the next when it fails.
import {
  ShmBlockPath,
  TcpBlockPath,
  probeSharedMemory,
  type BlockPath,
  type DataPathName,
  type ShmPathOptions,
} from "@kvtier/kv-transport";
import type { DataPlane } from "@kvtier/proto";
import { messageOf } from "./errors.js";

/** What the selection needs besides the announcement. */
export interface PathChoice {
  /** host:port of the store's gRPC endpoint (its host is used when the fast host is a wildcard). */
  endpoint: string;
  /** This process's KVTIER_NODE_ID; when given, shared memory needs it to equal the store's. */
  nodeId: string | undefined;
  /** host:port to reach the fast port at instead of the announced one (a proxy, NAT). */
  fastEndpoint: string | undefined;
  /** Paths allowed, fastest first. */
  paths: readonly DataPathName[];
  shm: ShmPathOptions;
  /** The service credential's bytes, presented on the fast port. */
  credential: Uint8Array;
  /** The portable path (always available). */
  grpc: BlockPath;
  /** Told why a faster path was not taken. */
  onFallback?: (path: DataPathName, reason: string) => void;
}

/** The host part of `host:port` (IPv6 in brackets kept as is). */
function endpointHost(endpoint: string): string {
  const at = endpoint.lastIndexOf(":");
  return at <= 0 ? endpoint : endpoint.slice(0, at);
}

/** The fastest usable path for `announced` (undefined: the store announces only gRPC). */
export async function selectBlockPath(announced: DataPlane | undefined, c: PathChoice): Promise<BlockPath> {
  const fallback = (path: DataPathName, reason: string): void => c.onFallback?.(path, reason);
  const announcedFast =
    announced && announced.fastPort > 0 ? { host: announced.fastHost || endpointHost(c.endpoint), port: announced.fastPort } : undefined;
  const fast =
    announcedFast && c.fastEndpoint
      ? { host: endpointHost(c.fastEndpoint), port: Number(c.fastEndpoint.slice(c.fastEndpoint.lastIndexOf(":") + 1)) }
      : announcedFast;
  if (c.paths.includes("shm")) {
    if (!announced?.shmDir || !fast) fallback("shm", "the store announces no shared-memory path");
    else if (c.nodeId !== undefined && c.nodeId !== announced.nodeId)
      fallback("shm", `store is on node ${announced.nodeId}, this process on ${c.nodeId}`);
    else if (!(await probeSharedMemory(announced.shmDir, announced.shmProbeFile, announced.shmProbeToken)))
      fallback("shm", `the store's probe is not readable in ${announced.shmDir} (another machine or container)`);
    else {
      try {
        return await ShmBlockPath.open(fast, c.credential, { dir: announced.shmDir, prefix: announced.shmPrefix }, c.shm);
      } catch (err) {
        fallback("shm", messageOf(err));
      }
    }
  }
  if (c.paths.includes("tcp")) {
    if (!fast) fallback("tcp", "the store announces no TCP fast path");
    else {
      try {
        return await TcpBlockPath.open(fast, c.credential);
      } catch (err) {
        fallback("tcp", messageOf(err));
      }
    }
  }
  return c.grpc;
}
