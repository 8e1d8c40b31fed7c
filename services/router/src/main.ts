// Router wiring: tokenizer, worker table (Redis registry), prefix index (NATS KV events), load
// reports, prefill queues (BullMQ), decode clients, the client-facing gRPC API and metrics.
import { KvTierServiceService, LoadReport } from "@kvtier/proto";
import {
  MetricsEndpoint, Tracing, WorkerRegistry, announceReady, bindGrpcServer, closeNats, closeRedis, connectNats, connectRedis, createGrpcServer,
  createLogger, loadWildcard, messageOf, onShutdown, shutdownGrpcServer,
} from "@kvtier/platform";
import { DEFAULT_ROUTING_WEIGHTS, HASH_SCHEME } from "@kvtier/prefix-index";
import { KV_BLOCK_LAYOUT_VERSION, Tokenizer, loadCheckpoint } from "@kvtier/tensor";
import { randomBytes } from "node:crypto";
import { readRouterConfig } from "./config.js";
import { DecodeClients } from "./decode-clients.js";
import { kvTierService } from "./grpc-service.js";
import { KvIndexSync } from "./kv-index-sync.js";
import { PrefillQueues } from "./prefill-queues.js";
import { RequestRunner } from "./request-runner.js";
import { RouterMetrics } from "./router-metrics.js";
import { WorkerTable } from "./worker-table.js";

/** Grace for in-flight streams on SIGTERM. */
const DRAIN_GRACE_MS = 5_000;

async function main(): Promise<void> {
  const cfg = readRouterConfig();
  const routerId = `router-${randomBytes(3).toString("hex")}`;
  const log = createLogger("router", cfg.logLevel, { router: routerId });
  const metricsEndpoint = new MetricsEndpoint("router");
  const metrics = new RouterMetrics(metricsEndpoint.registry);
  const metricsPort = await metricsEndpoint.listen(cfg.metricsPort);
  const tracing = Tracing.start("router", cfg.tracing);

  const model = loadCheckpoint(cfg.checkpointPath);
  const tokenizer = Tokenizer.fromFile(cfg.tokenizerPath, model.config.vocabSize);
  const layout = { modelId: model.modelId, blockSize: cfg.blockSize, layoutVersion: KV_BLOCK_LAYOUT_VERSION, hashScheme: HASH_SCHEME };
  const nc = await connectNats(cfg.natsUrl, routerId);
  const redis = connectRedis(cfg.redisUrl, routerId);

  const sync = new KvIndexSync(nc, cfg.namespace, routerId, log);
  sync.start();
  // the table reports dropped workers to the runner, which is built from the table below
  const table = new WorkerTable(new WorkerRegistry(redis, cfg.namespace), layout, cfg.heartbeatTimeoutMs, log, (info) => runner.onWorkerDropped(info));
  const loadSub = nc.subscribe(loadWildcard(cfg.namespace), {
    callback: (err, msg) => {
      if (err) return;
      try {
        table.onLoad(LoadReport.decode(msg.data));
      } catch (e) {
        log.warn("bad load report", { err: messageOf(e) });
      }
    },
  });
  const queues = new PrefillQueues(redis, cfg.namespace, cfg.prefillJobAttempts, log);
  const decodeClients = new DecodeClients();
  const runner = new RequestRunner({
    cfg, tokenizer, modelId: model.modelId, seqLen: model.config.seqLen, weights: DEFAULT_ROUTING_WEIGHTS, table, sync, queues, decodeClients,
    redis, nc, metrics, log, tracer: tracing.tracer,
  });

  // catch up: the current workers and kvstores from the registry, then their snapshots
  await table.refresh();
  const announcers = new Set<string>();
  for (const role of ["prefill", "decode"] as const) {
    for (const w of table.byRole(role)) {
      announcers.add(w.info.workerId);
      if (w.info.kvstoreId) announcers.add(w.info.kvstoreId);
    }
  }
  await Promise.all([...announcers].map((a) => sync.snapshot(a)));
  const poll = setInterval(() => void table.refresh().catch((e: unknown) => log.warn("registry refresh failed", { err: messageOf(e) })), cfg.heartbeatMs);

  const server = createGrpcServer();
  server.addService(KvTierServiceService, kvTierService(cfg, runner, metrics, log));
  const port = await bindGrpcServer(server, cfg.host, cfg.port);
  announceReady("router", { id: routerId, port, metricsPort, modelId: model.modelId });
  log.info("router ready", { port, metricsPort, workers: table.byRole("decode").length + table.byRole("prefill").length });

  onShutdown(log, async () => {
    await shutdownGrpcServer(server, DRAIN_GRACE_MS);
    clearInterval(poll);
    loadSub.unsubscribe();
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
