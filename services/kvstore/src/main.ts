// The kvstore process: the one wiring point. Connects NATS, builds the store, binds gRPC and
// metrics, prints the ready line, and shuts down cleanly on SIGTERM.
import {
  DRAIN_GRACE_MS,
  GrpcPort,
  Heartbeat,
  KvEventAnnouncer,
  MetricsEndpoint,
  announceReady,
  closeNats,
  connectNats,
  createLogger,
  loadSubject,
  onShutdown,
} from "@kvtier/platform";
import { LoadReport } from "@kvtier/proto";
import { announcerSink, snapshotOf } from "./announcer-sink.js";
import { KvBlockStore } from "./block-store.js";
import { loadKvStoreConfig } from "./config.js";
import { FastPathServer } from "./data-plane/fast-path-server.js";
import { KvStoreMetrics } from "./kvstore-metrics.js";
import { createKvStoreServer } from "./kvstore-service.js";
import { openTiers } from "./tier-setup.js";

async function main(): Promise<void> {
  const cfg = loadKvStoreConfig();
  const log = createLogger("kvstore", cfg.common.logLevel, { storeId: cfg.storeId });
  const nc = await connectNats(cfg.common.natsUrl, cfg.storeId);
  const announcer = new KvEventAnnouncer(nc, cfg.common.namespace, cfg.storeId, cfg.common.blockSize);
  const endpoint = new MetricsEndpoint("kvstore");
  const metrics = new KvStoreMetrics(endpoint.registry);
  const { host, ssd } = await openTiers(cfg, log);
  const store = new KvBlockStore({
    storeId: cfg.storeId,
    incarnation: announcer.incarnation,
    host,
    ssd,
    blockSize: cfg.common.blockSize,
    writeThrough: cfg.ssdWriteThrough,
    ssdAdmitMinAccesses: cfg.ssdAdmitMinAccesses,
    leaseTtlMs: cfg.leaseTtlMs,
    events: announcerSink(announcer),
    observer: metrics,
    log,
  });
  metrics.observeOccupancy(() => store.occupancy());
  metrics.observeLeases(() => store.leaseCounts());
  await store.announceSsd(); // a restart re-announces what survived on disk, under the new incarnation
  announcer.serveSnapshots(
    () => snapshotOf(store),
    (err) => log.warn("snapshot request failed", { err: String(err) }),
  );

  const fast = cfg.fastPath
    ? new FastPathServer({
        store,
        serviceToken: cfg.common.serviceToken,
        nodeId: cfg.common.nodeId,
        namespace: cfg.common.namespace,
        shmDir: cfg.shmDir,
        metrics,
        log,
      })
    : undefined;
  const fastPort = await fast?.listen(cfg.host, cfg.fastPort);
  const server = createKvStoreServer({
    store,
    serviceToken: cfg.common.serviceToken,
    metrics,
    log,
    dataPlane: fast && (() => fast.announcement()),
  });
  const grpc = await GrpcPort.bind(server, cfg.host, cfg.port);
  const port = grpc.port;
  const metricsPort = await endpoint.listen(cfg.common.metricsPort, cfg.host);
  // liveness for the routers (they drop a silent kvstore's index entries): a load report per heartbeat over NATS
  const report = (leaving: boolean): void =>
    nc.publish(
      loadSubject(cfg.common.namespace, cfg.storeId),
      LoadReport.encode({
        workerId: cfg.storeId,
        role: "kvstore",
        queuedPrefillTokens: 0,
        activeDecodeBlocks: 0,
        freeBlocks: 0,
        runningRequests: 0,
        unixMs: Date.now(),
        leaving,
      }).finish(),
    );
  const heartbeat = new Heartbeat(
    async () => report(false),
    cfg.common.heartbeatMs,
    (err) => log.warn("load report failed", { err: String(err) }),
  );
  await heartbeat.start();
  onShutdown(log, async () => {
    heartbeat.stop();
    report(true);
    await Promise.all([grpc.shutdown(DRAIN_GRACE_MS), fast?.close(DRAIN_GRACE_MS)]);
    await store.close();
    announcer.close();
    await closeNats(nc);
    await endpoint.close();
  });
  log.info("serving", {
    port,
    fastPort,
    shm: fast?.announcement().shmDir || "off",
    metricsPort,
    capacityBytes: cfg.hostCapacityBytes,
    ssd: cfg.ssdDir ?? "off",
    namespace: cfg.common.namespace,
  });
  announceReady("kvstore", { id: cfg.storeId, port, fastPort: fastPort ?? 0, metricsPort, incarnation: announcer.incarnation });
}

main().catch((err: unknown) => {
  process.stderr.write(
    JSON.stringify({ t: new Date().toISOString(), lvl: "error", svc: "kvstore", msg: "failed to start", err: String(err) }) + "\n",
  );
  process.exit(1);
});
