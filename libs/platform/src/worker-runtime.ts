// What a prefill or decode worker starts with and closes in the same way: logs, metrics, tracing,
// the engine thread, NATS, Redis, the kvstore client, the device tier's KV events and snapshots,
// the registry heartbeat with load reports, and cancel broadcasts. Each worker's main adds its
// own serving surface (a BullMQ queue, a gRPC server) on top.
import { CancelRequest, LoadReport, Tier, type WorkerInfo } from "@kvtier/proto";
import { messageOf, type Logger } from "@kvtier/core";
import { DEVICE_CODEC, HASH_SCHEME } from "@kvtier/kv-router";
import { EngineHost, KV_BLOCK_LAYOUT_VERSION } from "@kvtier/tensor";
import type { CommonConfig } from "./common-config.js";
import { DeviceTier } from "./device-tier.js";
import { KvEventAnnouncer } from "./kv-event-announcer.js";
import { KvStoreClient } from "./kvstore-client.js";
import { createLogger } from "./log.js";
import { MetricsEndpoint } from "./metrics.js";
import { cancelSubject, loadSubject } from "./naming.js";
import { closeNats, connectNats, type NatsConnection } from "./nats.js";
import { closeRedis, connectRedis, redisReady, type Redis } from "./redis.js";
import { Tracing } from "./tracing.js";
import { Heartbeat, WorkerRegistry } from "./worker-registry.js";

/** The settings a worker runtime needs (both workers' configs have them). */
export interface WorkerRuntimeConfig extends CommonConfig {
  workerId: string;
  kvstoreEndpoint: string;
  kvstoreId: string;
  deviceBlocks: number;
}

export class WorkerRuntime {
  private heartbeat: Heartbeat | undefined;
  private readonly subscriptions: Array<{ unsubscribe(): void }> = [];

  private constructor(
    readonly role: "prefill" | "decode",
    readonly cfg: WorkerRuntimeConfig,
    readonly log: Logger,
    readonly metricsEndpoint: MetricsEndpoint,
    readonly metricsPort: number,
    readonly tracing: Tracing,
    readonly engine: EngineHost,
    readonly nc: NatsConnection,
    readonly redis: Redis,
    readonly store: KvStoreClient,
    readonly announcer: KvEventAnnouncer,
  ) {}

  /** Start everything a worker shares; the device tier is announced from here on. */
  static async start(role: "prefill" | "decode", cfg: WorkerRuntimeConfig): Promise<WorkerRuntime> {
    const log = createLogger(role, cfg.logLevel, { worker: cfg.workerId });
    const metricsEndpoint = new MetricsEndpoint(role);
    const metricsPort = await metricsEndpoint.listen(cfg.metricsPort);
    const tracing = Tracing.start(role, cfg.tracing);
    const engine = await EngineHost.start({
      checkpointPath: cfg.checkpointPath,
      blockSize: cfg.blockSize,
      capacityBlocks: cfg.deviceBlocks,
    });
    const nc = await connectNats(cfg.natsUrl, cfg.workerId);
    const redis = connectRedis(cfg.redisUrl, cfg.workerId);
    await redisReady(redis);
    // the node id lets the client take the co-located (shared-memory) path to its own node's store
    const store = new KvStoreClient(cfg.kvstoreEndpoint, { serviceToken: cfg.serviceToken, nodeId: cfg.nodeId });
    const announcer = new KvEventAnnouncer(nc, cfg.namespace, cfg.workerId, cfg.blockSize);
    const device = new DeviceTier(engine, announcer);
    announcer.serveSnapshots(
      () => [{ tier: Tier.TIER_DEVICE, codec: DEVICE_CODEC, hashes: device.held() }],
      (e) => log.warn("snapshot failed", { err: messageOf(e) }),
    );
    return new WorkerRuntime(role, cfg, log, metricsEndpoint, metricsPort, tracing, engine, nc, redis, store, announcer);
  }

  /** Call `onCancel(requestId, reason)` for every cancel broadcast. */
  onCancel(onCancel: (requestId: string, reason: string) => void): void {
    this.subscriptions.push(
      this.nc.subscribe(cancelSubject(this.cfg.namespace), {
        callback: (err, msg) => {
          if (err) return;
          try {
            const c = CancelRequest.decode(msg.data);
            onCancel(c.requestId, c.reason);
          } catch (e) {
            this.log.warn("bad cancel message", { err: messageOf(e) });
          }
        },
      }),
    );
  }

  /** Keep a subscription to close with the runtime. */
  own(sub: { unsubscribe(): void }): void {
    this.subscriptions.push(sub);
  }

  /** Register in the worker registry and heartbeat with a load report each period. */
  async startHeartbeat(endpoint: string, load: () => Promise<LoadReport> | LoadReport): Promise<void> {
    const { cfg } = this;
    const model = this.engine.modelInfo;
    const registry = new WorkerRegistry(this.redis, cfg.namespace);
    const info: WorkerInfo = {
      workerId: cfg.workerId,
      role: this.role,
      endpoint,
      nodeId: cfg.nodeId,
      kvstoreEndpoint: cfg.kvstoreEndpoint,
      kvstoreId: cfg.kvstoreId,
      layout: { modelId: model.modelId, blockSize: cfg.blockSize, layoutVersion: KV_BLOCK_LAYOUT_VERSION, hashScheme: HASH_SCHEME },
      incarnation: this.announcer.incarnation,
      heartbeatUnixMs: 0,
      capacityBlocks: cfg.deviceBlocks,
    };
    this.heartbeat = new Heartbeat(
      async () => {
        // the load report goes out first, whatever Redis does: during a Redis outage it is how
        // the router knows this worker is alive; the registry entry comes back with Redis
        this.nc.publish(loadSubject(cfg.namespace, cfg.workerId), LoadReport.encode(await load()).finish());
        await registry.heartbeat(info);
      },
      cfg.heartbeatMs,
      (e) => this.log.warn("registry heartbeat failing (load reports go on over NATS)", { err: messageOf(e) }),
      () => this.log.info("registry heartbeat restored"),
    );
    await this.heartbeat.start();
  }

  /** Leave first (the router stops sending work: a leaving report, then the registry entry), before draining. */
  async deregister(): Promise<void> {
    this.heartbeat?.stop();
    const leaving: LoadReport = {
      workerId: this.cfg.workerId,
      role: this.role,
      queuedPrefillTokens: 0,
      activeDecodeBlocks: 0,
      freeBlocks: 0,
      runningRequests: 0,
      unixMs: Date.now(),
      leaving: true,
    };
    this.nc.publish(loadSubject(this.cfg.namespace, this.cfg.workerId), LoadReport.encode(leaving).finish());
    await new WorkerRegistry(this.redis, this.cfg.namespace).remove(this.cfg.workerId).catch(() => undefined);
  }

  /** Close everything, in dependency order; call after the worker's own surface is drained. */
  async close(): Promise<void> {
    this.heartbeat?.stop();
    for (const s of this.subscriptions) s.unsubscribe();
    this.announcer.close();
    await closeNats(this.nc);
    await closeRedis(this.redis);
    this.store.close();
    await this.engine.close();
    await this.tracing.shutdown();
    await this.metricsEndpoint.close();
  }
}
