// Decode worker wiring: the shared worker runtime (engine thread, kvstore client, NATS, Redis,
// device-tier events, registry), plus this worker's gRPC server and KV-ready subscription.
import { DecodeWorkerServiceService } from "@kvtier/proto";
import { DRAIN_GRACE_MS, GrpcPort, WorkerRuntime, addGuardedService, announceReady, createGrpcServer, onShutdown } from "@kvtier/platform";
import { Tokenizer } from "@kvtier/tensor";
import { readDecodeConfig } from "./config.js";
import { DecodeMetrics } from "./decode-metrics.js";
import { DecodeWorker } from "./decode-worker.js";
import { decodeService } from "./grpc-service.js";
import { subscribeKvReady } from "./nats-adapter.js";

async function main(): Promise<void> {
  const cfg = readDecodeConfig();
  const rt = await WorkerRuntime.start("decode", cfg);
  const { log, engine, store, redis } = rt;
  const model = engine.modelInfo;
  const metrics = new DecodeMetrics(rt.metricsEndpoint.registry);
  const tokenizer = Tokenizer.fromFile(cfg.tokenizerPath, model.config.vocabSize);
  const worker = new DecodeWorker({
    cfg,
    engine,
    store,
    tokenizer,
    redis,
    metrics,
    log,
    seqLen: model.config.seqLen,
    tracer: rt.tracing.tracer,
  });

  const server = createGrpcServer({ serviceToken: cfg.serviceToken });
  addGuardedService(server, DecodeWorkerServiceService, decodeService(worker, log));
  const grpc = await GrpcPort.bind(server, cfg.host, cfg.port);
  const port = grpc.port;
  rt.own(subscribeKvReady(rt.nc, cfg.namespace, cfg.workerId, worker, log));
  rt.onCancel((requestId, reason) => worker.cancel(requestId, reason));
  await rt.startHeartbeat(`${cfg.host}:${port}`, () => worker.load());
  announceReady("decode", {
    id: cfg.workerId,
    port,
    metricsPort: rt.metricsPort,
    incarnation: rt.announcer.incarnation,
    modelId: model.modelId,
  });
  log.info("decode worker ready", { port, metricsPort: rt.metricsPort, modelId: model.modelId });

  onShutdown(log, async () => {
    await rt.deregister();
    const stopServer = grpc.shutdown(DRAIN_GRACE_MS);
    const drained = await Promise.race([
      worker.drain().then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), DRAIN_GRACE_MS)),
    ]);
    if (!drained) worker.abortAll(`decode worker ${cfg.workerId} shut down`);
    await stopServer;
    await rt.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`decode: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
