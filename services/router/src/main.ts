// Router wiring: tokenizer, worker table (Redis registry), prefix index (NATS KV events, snapshot
// catch-up), load reports, replica load sharing (NATS), prefill queues (BullMQ), decode clients,
// the client-facing gRPC API, metrics and GET /debug/index.
import { KvTierServiceService, LoadReport } from "@kvtier/proto";
import {
  DRAIN_GRACE_MS,
  GrpcPort,
  MetricsEndpoint,
  Tracing,
  WorkerRegistry,
  addGuardedService,
  announceReady,
  closeNats,
  closeRedis,
  connectNats,
  connectRedis,
  createGrpcServer,
  createLogger,
  loadWildcard,
  messageOf,
  onShutdown,
  redisReady,
} from "@kvtier/platform";
import { HASH_SCHEME, LoadLedger, PeerLoads, Placer, SessionTable } from "@kvtier/kv-router";
import { KV_BLOCK_LAYOUT_VERSION, Tokenizer, loadCheckpoint } from "@kvtier/tensor";
import { randomBytes } from "node:crypto";
import { readRouterConfig } from "./config.js";
import { DecodeClients } from "./decode-clients.js";
import { kvTierService } from "./grpc-service.js";
import { indexDebugRoute } from "./index-debug.js";
import { KvIndexSync } from "./kv-index-sync.js";
import { PrefillQueues } from "./prefill-queues.js";
import { RequestRunner } from "./request-runner.js";
import { RouterMetrics } from "./router-metrics.js";
import { RouterPeers } from "./router-peers.js";
import { WorkerTable } from "./worker-table.js";

async function main(): Promise<void> {
  const cfg = readRouterConfig();
  const routerId = `router-${randomBytes(3).toString("hex")}`;
  const log = createLogger("router", cfg.logLevel, { router: routerId });
  const metricsEndpoint = new MetricsEndpoint("router");
  const tracing = Tracing.start("router", cfg.tracing);

  const model = loadCheckpoint(cfg.checkpointPath);
  const tokenizer = Tokenizer.fromFile(cfg.tokenizerPath, model.config.vocabSize);
  const layout = { modelId: model.modelId, blockSize: cfg.blockSize, layoutVersion: KV_BLOCK_LAYOUT_VERSION, hashScheme: HASH_SCHEME };
  const nc = await connectNats(cfg.natsUrl, routerId);
  const redis = connectRedis(cfg.redisUrl, routerId);
  await redisReady(redis);

  const { routing } = cfg;
  const placer = new Placer({
    policy: routing.policy,
    weights: routing.weights,
    localPrefillMaxTokens: cfg.localPrefillMaxTokens,
    blockSize: cfg.blockSize,
  });
  const ledger = new LoadLedger(routing.recentWorkTauMs);
  const peers = new PeerLoads(routing.peerShareMs);
  const sessions = new SessionTable(routing.sessionTtlMs);
  // the table, the sync and the metrics refer to each other: the callbacks run only after all are built
  const metrics: RouterMetrics = new RouterMetrics(metricsEndpoint.registry, {
    indexBlocks: () => sync.index.blockCount(),
    indexLocations: () => sync.index.locationCount(),
    indexTableBytes: () => sync.index.tableBytes(),
    peerRouters: () => peers.liveIds().length,
    sessions: () => sessions.size,
  });
  const table: WorkerTable = new WorkerTable(new WorkerRegistry(redis, cfg.namespace), layout, cfg.heartbeatTimeoutMs, log, {
    onDropped: (info) => {
      runner.onWorkerDropped(info);
      ledger.forget(info.workerId);
    },
    // a new worker (or its node's kvstore) may hold blocks announced before this router heard of it
    onAdded: (info) => {
      for (const id of [info.workerId, info.kvstoreId]) if (id && !sync.feed.knows(id)) void sync.snapshot(id);
    },
    onKvstoreLost: (id) => sync.forget(id),
    onRefusedChanged: (refused) => {
      metrics.setRefused(refused);
      for (const id of refused.keys()) sync.forget(id);
    },
  });
  const sync: KvIndexSync = new KvIndexSync(
    nc,
    cfg.namespace,
    routerId,
    { quietResyncMs: routing.quietResyncMs, faultDropOneIn: routing.faultDropEventBatches, isRefused: (id) => table.isRefused(id) },
    metrics,
    log,
  );
  sync.start();
  if (cfg.debugEndpoints) metricsEndpoint.route("/debug/index", indexDebugRoute(sync.feed), { serviceToken: cfg.serviceToken });
  const metricsPort = await metricsEndpoint.listen(cfg.metricsPort);
  const loadSub = nc.subscribe(loadWildcard(cfg.namespace), {
    callback: (err, msg) => {
      if (err) return;
      try {
        const report = LoadReport.decode(msg.data);
        table.onLoad(report);
        if (report.role === "prefill" || report.role === "decode") ledger.noteReport(report.workerId, report.queuedPrefillTokens); // what was sent before it is in the report now
      } catch (e) {
        log.warn("bad load report", { err: messageOf(e) });
      }
    },
  });
  const routerPeers = new RouterPeers(nc, cfg.namespace, routerId, ledger, peers, sessions, routing.peerShareMs, log);
  routerPeers.start();
  const queues = new PrefillQueues(redis, cfg.namespace, cfg.prefillJobAttempts, log);
  const decodeClients = new DecodeClients(cfg.serviceToken);
  const runner: RequestRunner = new RequestRunner({
    cfg,
    tokenizer,
    modelId: model.modelId,
    seqLen: model.config.seqLen,
    table,
    placer,
    ledger,
    peers,
    sessions,
    routerPeers,
    sync,
    queues,
    decodeClients,
    redis,
    nc,
    metrics,
    log,
    tracer: tracing.tracer,
  });

  // catch up: every announcer answers one broadcast (kvstores included); then the registry's
  // workers and their kvstores that did not answer are asked one by one
  const discovered = new Set(await sync.discover());
  await table.refresh();
  const known = new Set<string>();
  for (const w of table.all()) for (const id of [w.info.workerId, w.info.kvstoreId]) if (id && !discovered.has(id)) known.add(id);
  await Promise.all([...known].map((a) => sync.snapshot(a)));
  // every later "ready" is a reconnection: Redis may have restarted empty
  redis.on("ready", () => void runner.recoverAfterRedisOutage());
  const poll = setInterval(() => void table.refresh(), cfg.heartbeatMs);

  // every Generate that reached the router is counted once with its final status, cancelled and refused ones too
  const server = createGrpcServer({ onCallEnd: (method, code) => method === "Generate" && metrics.requests.inc({ code }) });
  addGuardedService(server, KvTierServiceService, kvTierService(cfg, runner, log));
  const grpc = await GrpcPort.bind(server, cfg.host, cfg.port);
  const port = grpc.port;
  announceReady("router", { id: routerId, port, metricsPort, modelId: model.modelId });
  log.info("router ready", {
    port,
    metricsPort,
    workers: table.all().length,
    announcers: sync.feed.announcerCount(),
    indexedBlocks: sync.index.blockCount(),
  });

  onShutdown(log, async () => {
    await grpc.shutdown(DRAIN_GRACE_MS);
    clearInterval(poll);
    loadSub.unsubscribe();
    routerPeers.close();
    sync.close();
    decodeClients.close();
    await queues.close();
    await closeNats(nc);
    await closeRedis(redis);
    await tracing.shutdown();
    await metricsEndpoint.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`router: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
