// The KvStoreService implementation and a grpc-js server carrying it (not yet bound).
import type { sendUnaryData, Server } from "@grpc/grpc-js";
import { addGuardedService, createGrpcServer, type Logger, type ServiceToken } from "@kvtier/platform";
import { KvStoreServiceService, type DataPlane, type KvStoreServiceServer } from "@kvtier/proto";
import type { KvBlockStore } from "./block-store.js";
import { getHandler } from "./get-handler.js";
import { statusOf } from "./grpc-status.js";
import type { KvStoreMetrics } from "./kvstore-metrics.js";
import { PutBudget } from "./put-budget.js";
import { putHandler } from "./put-handler.js";
import type { ServiceDeps } from "./service-deps.js";
import { infoToWire } from "./wire-info.js";
import { parseBlockKeys, parseLeaseId } from "./wire-requests.js";
import { tierToWire } from "./wire-tier.js";

/** What a kvstore server serves and reports to. */
export interface KvStoreServerOptions {
  store: KvBlockStore;
  /** The deployment's service credential, required on every call. */
  serviceToken: ServiceToken;
  /** @default no metrics */
  metrics?: KvStoreMetrics;
  /** @default no logs */
  log?: Logger;
  /** Bytes of puts received at once. @default MAX_INFLIGHT_PUT_BYTES (512 MiB) */
  maxInflightPutBytes?: number;
  /** The fast data paths announced in Info (src/data-plane). @default none: gRPC only */
  dataPlane?: () => DataPlane;
}

/** Answer a unary call with `run()`'s result or its error's status. */
function unary<Res>(callback: sendUnaryData<Res>, run: () => Res): void {
  let res: Res;
  try {
    res = run();
  } catch (err) {
    callback(statusOf(err));
    return;
  }
  callback(null, res);
}

/** The KvStoreService handlers over a store. */
function createKvStoreService(opts: KvStoreServerOptions): KvStoreServiceServer {
  const deps: ServiceDeps = { store: opts.store, budget: new PutBudget(opts.maxInflightPutBytes), metrics: opts.metrics, log: opts.log };
  const { store } = deps;
  const [put, get] = [putHandler(deps), getHandler(deps)];
  return {
    put: (call, callback) => {
      opts.metrics?.dataRequest("grpc", "put");
      put(call, callback);
    },
    get: (call) => {
      opts.metrics?.dataRequest("grpc", "get");
      get(call);
    },
    lookup: (call, callback) =>
      unary(callback, () => {
        const tiers = store.lookup(parseBlockKeys(call.request.blockHashes, call.request.codec));
        return { leadingBlocks: tiers.length, tiers: tiers.map(tierToWire) };
      }),
    delete: (call, callback) =>
      unary(callback, () => ({ deleted: store.delete(parseBlockKeys(call.request.blockHashes, call.request.codec)) })),
    info: (_call, callback) => unary(callback, () => ({ ...infoToWire(store.info()), dataPlane: opts.dataPlane?.() })),
    release: (call, callback) => unary(callback, () => ({ released: store.release(parseLeaseId(call.request.leaseId)) })),
  };
}

/** A grpc-js server (project limits, service credential required) serving KvStoreService; listen with GrpcPort.bind. */
export function createKvStoreServer(opts: KvStoreServerOptions): Server {
  const server = createGrpcServer({ serviceToken: opts.serviceToken });
  addGuardedService(server, KvStoreServiceService, createKvStoreService(opts));
  return server;
}
