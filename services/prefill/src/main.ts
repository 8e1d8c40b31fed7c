// Prefill worker wiring: the shared worker runtime (engine thread, kvstore client, NATS, Redis,
// device-tier events, registry), plus this worker's own BullMQ queue.
import { Queue, Worker } from "bullmq";
import { PrefillJob } from "@kvtier/proto";
import { WorkerRuntime, announceReady, bullPrefix, connectRedis, closeRedis, onShutdown, prefillQueueName } from "@kvtier/platform";
import { readPrefillConfig } from "./config.js";
import { PrefillMetrics } from "./prefill-metrics.js";
import { PrefillProcessor } from "./prefill-processor.js";

/** Waiting jobs looked at when estimating queued prefill tokens for load reports. */
const LOAD_SAMPLE_JOBS = 100;

async function main(): Promise<void> {
  const cfg = readPrefillConfig();
  const rt = await WorkerRuntime.start("prefill", cfg);
  const { log, engine, store, nc, redis } = rt;
  const metrics = new PrefillMetrics(rt.metricsEndpoint.registry);
  const processor = new PrefillProcessor({ cfg, engine, store, nc, redis, metrics, log, tracer: rt.tracing.tracer });
  rt.onCancel((requestId) => processor.cancel(requestId));

  const queueName = prefillQueueName(cfg.workerId);
  const bullRedis = connectRedis(cfg.redisUrl, `${cfg.workerId}-bullmq`, "queue-worker");
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

  // waiting jobs' tokens, as last read: the load report must not wait on Redis
  let waitingTokens = 0;
  const queuedTokens = async (): Promise<number> => {
    try {
      let tokens = 0;
      for (const j of await queue.getWaiting(0, LOAD_SAMPLE_JOBS - 1)) {
        try {
          tokens += PrefillJob.fromJSON(j.data).plan?.tokenIds.length ?? 0;
        } catch {
          // not ours to count
        }
      }
      waitingTokens = tokens;
    } catch {
      // Redis unreachable: the last count stands
    }
    return processor.activeTokens + waitingTokens;
  };
  await rt.startHeartbeat("", async () => ({
    workerId: cfg.workerId,
    role: "prefill",
    queuedPrefillTokens: await queuedTokens(),
    activeDecodeBlocks: 0,
    freeBlocks: 0,
    runningRequests: processor.activeJobs,
    unixMs: Date.now(),
    leaving: false,
  }));
  const model = engine.modelInfo;
  announceReady("prefill", {
    id: cfg.workerId,
    metricsPort: rt.metricsPort,
    queue: queueName,
    incarnation: rt.announcer.incarnation,
    modelId: model.modelId,
  });
  log.info("prefill worker ready", { queue: queueName, metricsPort: rt.metricsPort, modelId: model.modelId });

  onShutdown(log, async () => {
    await rt.deregister();
    await worker.close(); // waits for active jobs; waiting ones stay queued for the router to move
    await queue.close();
    await closeRedis(bullRedis);
    await rt.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`prefill: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
