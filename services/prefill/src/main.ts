// Prefill worker wiring: its own BullMQ queue, engine thread, kvstore client, NATS, registry.
import { Queue, Worker } from "bullmq";
import { CancelRequest, LoadReport, PrefillJob, Tier, type WorkerInfo } from "@kvtier/proto";
import {
  Heartbeat, KvEventAnnouncer, KvStoreClient, MetricsEndpoint, Tracing, WorkerRegistry, announceReady, bullPrefix, cancelSubject, closeNats,
  closeRedis, connectNats, connectRedis, createLogger, loadSubject, messageOf, onShutdown, prefillQueueName,
} from "@kvtier/platform";
import { HASH_SCHEME } from "@kvtier/prefix-index";
import { DEVICE_CODEC, DeviceTier } from "@kvtier/serving";
import { EngineHost, KV_BLOCK_LAYOUT_VERSION } from "@kvtier/tensor";
import { readPrefillConfig } from "./config.js";
import { PrefillMetrics } from "./prefill-metrics.js";
import { PrefillProcessor } from "./prefill-processor.js";

/** Waiting jobs looked at when estimating queued prefill tokens for load reports. */
const LOAD_SAMPLE_JOBS = 100;

async function main(): Promise<void> {
  const cfg = readPrefillConfig();
  const log = createLogger("prefill", cfg.logLevel, { worker: cfg.workerId });
  const metricsEndpoint = new MetricsEndpoint("prefill");
  const metrics = new PrefillMetrics(metricsEndpoint.registry);
  const metricsPort = await metricsEndpoint.listen(cfg.metricsPort);
  const tracing = Tracing.start("prefill", cfg.tracing);

  const engine = await EngineHost.start({ checkpointPath: cfg.checkpointPath, blockSize: cfg.blockSize, capacityBlocks: cfg.deviceBlocks });
  const model = engine.modelInfo;
  const nc = await connectNats(cfg.natsUrl, cfg.workerId);
  const redis = connectRedis(cfg.redisUrl, cfg.workerId);
  const bullRedis = connectRedis(cfg.redisUrl, `${cfg.workerId}-bullmq`);
  const store = new KvStoreClient(cfg.kvstoreEndpoint);

  const announcer = new KvEventAnnouncer(nc, cfg.namespace, cfg.workerId, cfg.blockSize);
  const device = new DeviceTier(engine, announcer);
  announcer.serveSnapshots(() => [{ tier: Tier.TIER_DEVICE, codec: DEVICE_CODEC, hashes: device.held() }], (e) => log.warn("snapshot failed", { err: messageOf(e) }));

  const processor = new PrefillProcessor({ cfg, engine, store, nc, redis, metrics, log, tracer: tracing.tracer });
  const cancelSub = nc.subscribe(cancelSubject(cfg.namespace), {
    callback: (err, msg) => {
      if (err) return;
      try {
        processor.cancel(CancelRequest.decode(msg.data).requestId);
      } catch (e) {
        log.warn("bad cancel message", { err: messageOf(e) });
      }
    },
  });

  const queueName = prefillQueueName(cfg.workerId);
  const queue = new Queue(queueName, { connection: redis, prefix: bullPrefix(cfg.namespace) });
  const worker = new Worker(queueName, (job) => processor.process(job), {
    connection: bullRedis,
    prefix: bullPrefix(cfg.namespace),
    concurrency: cfg.concurrency,
    lockDuration: cfg.jobLockMs,
    stalledInterval: cfg.jobLockMs,
  });
  worker.on("failed", (job, err) => log.warn("prefill job failed", { jobId: job?.id, err: err.message }));
  worker.on("error", (err) => log.error("bullmq worker error", { err: err.message }));
  await worker.waitUntilReady();

  const queuedTokens = async (): Promise<number> => {
    let tokens = processor.activeTokens;
    for (const j of await queue.getWaiting(0, LOAD_SAMPLE_JOBS - 1)) {
      try {
        tokens += PrefillJob.fromJSON(j.data).plan?.tokenIds.length ?? 0;
      } catch {
        // not ours to count
      }
    }
    return tokens;
  };

  const registry = new WorkerRegistry(redis, cfg.namespace);
  const info: WorkerInfo = {
    workerId: cfg.workerId, role: "prefill", endpoint: "", nodeId: cfg.nodeId, kvstoreEndpoint: cfg.kvstoreEndpoint, kvstoreId: cfg.kvstoreId,
    layout: { modelId: model.modelId, blockSize: cfg.blockSize, layoutVersion: KV_BLOCK_LAYOUT_VERSION, hashScheme: HASH_SCHEME },
    incarnation: announcer.incarnation, heartbeatUnixMs: 0, capacityBlocks: cfg.deviceBlocks,
  };
  const heartbeat = new Heartbeat(
    async () => {
      await registry.heartbeat(info);
      const load: LoadReport = {
        workerId: cfg.workerId, role: "prefill", queuedPrefillTokens: await queuedTokens(), activeDecodeBlocks: 0,
        freeBlocks: 0, runningRequests: processor.activeJobs, unixMs: Date.now(),
      };
      nc.publish(loadSubject(cfg.namespace, cfg.workerId), LoadReport.encode(load).finish());
    },
    cfg.heartbeatMs,
    (e) => log.warn("heartbeat failed", { err: messageOf(e) }),
  );
  await heartbeat.start();
  announceReady("prefill", { id: cfg.workerId, metricsPort, queue: queueName, incarnation: announcer.incarnation, modelId: model.modelId });
  log.info("prefill worker ready", { queue: queueName, metricsPort, modelId: model.modelId });

  onShutdown(log, async () => {
    heartbeat.stop();
    await registry.remove(cfg.workerId).catch(() => undefined);
    await worker.close(); // waits for active jobs; waiting ones stay queued for the router to move
    await queue.close();
    cancelSub.unsubscribe();
    announcer.close();
    await closeNats(nc);
    await closeRedis(bullRedis);
    await closeRedis(redis);
    store.close();
    await engine.close();
    await tracing.shutdown();
    await metricsEndpoint.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`prefill: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
