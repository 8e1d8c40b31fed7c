// The kvstore's fast data plane: a TCP server on its own port speaking the kvtier frame protocol
// (libs/kv-transport), carrying block bytes itself (TCP path) or only control frames while the
// bytes go through a client's shared-memory arena (co-located path). Talks to the store only
// through KvBlockStore's transport-neutral API; announces itself for InfoResponse.data_plane.
import { createServer, type OnReadOpts, type Server, type Socket } from "node:net";
import type { Logger, ServiceToken } from "@kvtier/platform";
import type { DataPlane } from "@kvtier/proto";
import type { KvBlockStore } from "../block-store.js";
import type { KvStoreMetrics } from "../kvstore-metrics.js";
import { PutBudget } from "../put-budget.js";
import { FastConnection } from "./fast-connection.js";
import { ShmAnnouncement } from "./shm-announcement.js";
import { adoptWithOnread } from "./socket-adoption.js";

/** Connections the fast port holds at once; more are closed as they arrive. */
const FAST_PATH_MAX_CONNECTIONS = 1_024;

/** Options of a {@link FastPathServer}. */
export interface FastPathServerOptions {
  store: KvBlockStore;
  /** The deployment's service credential: a connection's first frame must present it. */
  serviceToken: ServiceToken;
  /** KVTIER_NODE_ID, announced so clients on this node know they are co-located. */
  nodeId: string;
  /** KVTIER_NAMESPACE: arena and probe file names carry it. */
  namespace: string;
  /** Directory of the co-located arenas (KVTIER_KVSTORE_SHM_DIR); undefined = no co-located path. */
  shmDir: string | undefined;
  /** @default no metrics */
  metrics?: KvStoreMetrics;
  /** @default no logs */
  log?: Logger;
  /** Bytes of fast-path puts received at once. @default MAX_INFLIGHT_PUT_BYTES (512 MiB) */
  maxInflightPutBytes?: number;
}

/** The fast-path server; {@link close} is idempotent and drains. */
export class FastPathServer {
  private readonly server: Server;
  private readonly connections = new Set<FastConnection>();
  private shm: ShmAnnouncement | undefined;
  private host = "";
  private port = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly opts: FastPathServerOptions) {
    const deps = { store: opts.store, budget: new PutBudget(opts.maxInflightPutBytes), metrics: opts.metrics, log: opts.log };
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (accepted: Socket) => {
      const open = (onread: OnReadOpts): { socket: Socket; usesOnread: boolean } => {
        const adopted = adoptWithOnread(accepted, onread, true);
        if (adopted) return { socket: adopted, usesOnread: true };
        accepted.resume();
        return { socket: accepted, usesOnread: false };
      };
      const conn = new FastConnection(open, deps, this.shm, opts.serviceToken);
      this.connections.add(conn);
      void conn.closed.then(() => this.connections.delete(conn));
    });
    this.server.maxConnections = FAST_PATH_MAX_CONNECTIONS;
  }

  /** Write the shm probe (if a shm dir is configured) and listen; resolves to the bound port. */
  async listen(host: string, port: number): Promise<number> {
    if (this.opts.shmDir !== undefined) {
      const a = await ShmAnnouncement.create(this.opts.shmDir, this.opts.namespace, this.opts.store.storeId);
      if (a instanceof ShmAnnouncement) this.shm = a;
      else this.opts.log?.warn("no co-located (shared-memory) data path; clients will use TCP", { reason: a.unavailable });
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const addr = this.server.address();
    this.host = host;
    this.port = typeof addr === "object" && addr ? addr.port : port;
    return this.port;
  }

  /** What InfoResponse.data_plane says about this store. */
  announcement(): DataPlane {
    const shm = this.shm;
    return {
      nodeId: this.opts.nodeId,
      fastHost: this.host === "0.0.0.0" || this.host === "::" ? "" : this.host,
      fastPort: this.port,
      shmDir: shm?.dir ?? "",
      shmPrefix: shm?.prefix ?? "",
      shmProbeFile: shm?.probeFile ?? "",
      shmProbeToken: shm?.token ?? new Uint8Array(0),
    };
  }

  /** Stop accepting, let in-flight requests answer (at most `graceMs`), close connections and arenas, remove the probe. */
  close(graceMs: number): Promise<void> {
    this.closing ??= (async () => {
      this.server.close();
      for (const c of this.connections) c.shutdown();
      const all = Promise.all([...this.connections].map((c) => c.closed));
      const timer = setTimeout(() => this.connections.forEach((c) => c.destroy()), graceMs);
      await all;
      clearTimeout(timer);
      await this.shm?.close();
    })();
    return this.closing;
  }
}
