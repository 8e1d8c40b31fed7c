// Decode worker wiring: engine thread, kvstore client, NATS, Redis registry, gRPC, metrics.
import { DecodeWorkerServiceService, LoadReport, Tier, type WorkerInfo } from "@kvtier/proto";
import {
  Heartbeat, KvEventAnnouncer, KvStoreClient, MetricsEndpoint, Tracing, WorkerRegistry, announceReady, bindGrpcServer, closeNats,
  closeRedis, connectNats, connectRedis, createGrpcServer, createLogger, loadSubject, messageOf, onShutdown, shutdownGrpcServer,
} from "@kvtier/platform";
import { HASH_SCHEME } from "@kvtier/prefix-index";
import { DEVICE_CODEC, DeviceTier } from "@kvtier/serving";
import { EngineHost, KV_BLOCK_LAYOUT_VERSION, Tokenizer } from "@kvtier/tensor";
import { readDecodeConfig } from "./config.js";
import { DecodeMetrics } from "./decode-metrics.js";
import { DecodeWorker } from "./decode-worker.js";

import { decodeService } from "./grpc-service.js";
import { subscribeDecode } from "./nats-adapter.js";

/** How long running requests may take to finish on SIGTERM before they are ended UNAVAILABLE. */
const DRAIN_GRACE_MS = 5_000;

async function main(): Promise<void> {
  const cfg = readDecodeConfig();
  const log = createLogger("decode", cfg.logLevel, { worker: cfg.workerId });
  const metricsEndpoint = new MetricsEndpoint("decode");
  const metrics = new DecodeMetrics(metricsEndpoint.registry);
  const metricsPort = await metricsEndpoint.listen(cfg.metricsPort);
  const tracing = Tracing.start("decode", cfg.tracing);

  const engine = await EngineHost.start({ checkpointPath: cfg.checkpointPath, blockSize: cfg.blockSize, capacityBlocks: cfg.deviceBlocks });
  const model = engine.modelInfo;
  const tokenizer = Tokenizer.fromFile(cfg.tokenizerPath, model.config.vocabSize);
  const nc = await connectNats(cfg.natsUrl, cfg.workerId);
  const redis = connectRedis(cfg.redisUrl, cfg.workerId);
  const store = new KvStoreClient(cfg.kvstoreEndpoint);

  const announcer = new KvEventAnnouncer(nc, cfg.namespace, cfg.workerId, cfg.blockSize);
  const device = new DeviceTier(engine, announcer);
  announcer.serveSnapshots(() => [{ tier: Tier.TIER_DEVICE, codec: DEVICE_CODEC, hashes: device.held() }], (e) => log.warn("snapshot failed", { err: messageOf(e) }));

  const worker = new DecodeWorker({ cfg, engine, store, tokenizer, redis, metrics, log, seqLen: model.config.seqLen, tracer: tracing.tracer });
  const server = createGrpcServer();
  server.addService(DecodeWorkerServiceService, decodeService(worker, log));
  const port = await bindGrpcServer(server, cfg.host, cfg.port);
  const subs = subscribeDecode(nc, cfg.namespace, cfg.workerId, worker, log);

  const registry = new WorkerRegistry(redis, cfg.namespace);
  const info: WorkerInfo = {
    workerId: cfg.workerId, role: "decode", endpoint: `${cfg.host}:${port}`, nodeId: cfg.nodeId, kvstoreEndpoint: cfg.kvstoreEndpoint,
    kvstoreId: cfg.kvstoreId, layout: { modelId: model.modelId, blockSize: cfg.blockSize, layoutVersion: KV_BLOCK_LAYOUT_VERSION, hashScheme: HASH_SCHEME },
    incarnation: announcer.incarnation, heartbeatUnixMs: 0, capacityBlocks: cfg.deviceBlocks,
  };
  const heartbeat = new Heartbeat(
    async () => {
      await registry.heartbeat(info);
      nc.publish(loadSubject(cfg.namespace, cfg.workerId), LoadReport.encode(worker.load()).finish());
    },
    cfg.heartbeatMs,
    (e) => log.warn("heartbeat failed", { err: messageOf(e) }),
  );
  await heartbeat.start();
  announceReady("decode", { id: cfg.workerId, port, metricsPort, incarnation: announcer.incarnation, modelId: model.modelId });
  log.info("decode worker ready", { port, metricsPort, modelId: model.modelId });

  onShutdown(log, async () => {
    heartbeat.stop();
    await registry.remove(cfg.workerId).catch(() => undefined);
    const stopServer = shutdownGrpcServer(server, DRAIN_GRACE_MS);
    const drained = await Promise.race([worker.drain().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_GRACE_MS))]);
    if (!drained) worker.abortAll(`decode worker ${cfg.workerId} shut down`);
    await stopServer;
    for (const s of subs) s.unsubscribe();
    announcer.close();
    await closeNats(nc);
    await closeRedis(redis);
    store.close();
    await engine.close();
    await tracing.shutdown();
    await metricsEndpoint.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`decode: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
