// `pnpm bench store`: what moving KV blocks costs, against what the machine allows, in one run.
// For 256 KiB, 1 MiB and 4 MiB blocks, with the kvstore in its own process and at least 1 GiB
// moved per figure: the loopback (plain TCP socket pair), a plain memory copy, kvstore put/get
// over the TCP fast path, the co-located shared-memory path and gRPC (checksums verified as the
// store does: by the store on every put, by the client on every get), Redis SET/GET of the same
// blocks, and the SSD tier against plain files (fdatasync). Last line: one JSON object.
//   args: --sizes 262144,1048576  --only baselines,tcp,shm,grpc,redis,ssd  --moved-mib 1024  --in-flight-mib 16
//         --profile <dir>  (the kvstore runs with --cpu-prof into <dir>)
import { randomUUID } from "node:crypto";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Benchmark } from "./benchmark.js";
import { TcpPeer, memcpy, plainFiles, verifyOnly } from "./store-bench-baselines.js";
import { makeWorkingSet } from "./store-bench-blocks.js";
import { BenchKvStore, measurePath } from "./store-bench-kvstore.js";
import { describe, ratio, type Figure } from "./store-bench-measure.js";
import { measureRedis } from "./store-bench-redis.js";
import { measureSsdTier } from "./store-bench-ssd.js";

/** Block sizes measured (payload bytes; each block adds a 112-byte header). */
const BLOCK_SIZES = [256 * 1024, 1024 * 1024, 4 * 1024 * 1024];
/** Distinct blocks per size, reused round after round. */
const WORKING_SET_BYTES = 256 * 1024 * 1024;
/** Bytes moved per figure (at least). */
const MOVED_BYTES = 1024 * 1024 * 1024;
/** Bytes of one kvstore call (a run of consecutive blocks). */
const RUN_BYTES = 8 * 1024 * 1024;
/** Bytes in flight for the kvstore and Redis (calls or commands kept this deep). */
const IN_FLIGHT_BYTES = 16 * 1024 * 1024;
/** Files written or read at once (plain files and the SSD tier). */
const FILE_DEPTH = 4;
/** A benchmark stuck this long is a failure, not a figure. */
const WATCHDOG_MS = 30 * 60 * 1000;
/** The size whose ratios are the headline. */
const HEADLINE_SIZE = 1024 * 1024;

type Part = "baselines" | "tcp" | "shm" | "grpc" | "redis" | "ssd";
const ALL_PARTS: Part[] = ["baselines", "tcp", "shm", "grpc", "redis", "ssd"];

/** A figure as printed in the JSON line. */
const json = (f: Figure | null | undefined): Record<string, number | null> | null =>
  f
    ? {
        gbps: round(f.gbps),
        p50_ms: f.p50Ms === null ? null : round(f.p50Ms),
        p99_ms: f.p99Ms === null ? null : round(f.p99Ms),
        gib: round(f.bytes / 2 ** 30),
        ...(f.cpu ? { cpu_s_per_gib_client: f.cpu.client, cpu_s_per_gib_server: f.cpu.server } : {}),
      }
    : null;
const round = (x: number): number => Math.round(x * 1000) / 1000;

/** `pnpm bench store [args]`: prints every figure, returns the JSON summary (ratios for 1 MiB, figures per size). */
export const storeBench: Benchmark = async (args) => {
  const { values } = parseArgs({
    args,
    options: {
      sizes: { type: "string" },
      only: { type: "string" },
      "moved-mib": { type: "string" },
      "in-flight-mib": { type: "string" },
      profile: { type: "string" },
    },
  });
  const sizes = values.sizes ? values.sizes.split(",").map(Number) : BLOCK_SIZES;
  const parts = new Set((values.only?.split(",") ?? ALL_PARTS) as Part[]);
  const moved = values["moved-mib"] ? Number(values["moved-mib"]) * 2 ** 20 : MOVED_BYTES;
  const inFlight = values["in-flight-mib"] ? Number(values["in-flight-mib"]) * 2 ** 20 : IN_FLIGHT_BYTES;
  const redisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const say = (line: string): void => void process.stdout.write(line + "\n");
  const watchdog = setTimeout(() => {
    process.stderr.write(`store bench: still running after ${WATCHDOG_MS / 60_000} min; giving up\n`);
    process.exit(1);
  }, WATCHDOG_MS).unref();
  say(
    `store bench: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(
        " ",
      )}; ${(moved / 2 ** 30).toFixed(2)} GiB per figure, working set ${WORKING_SET_BYTES / 2 ** 20} MiB, calls of ${RUN_BYTES / 2 ** 20} MiB, ${inFlight / 2 ** 20} MiB in flight`,
  );

  const peer = parts.has("baselines") ? await TcpPeer.start() : undefined;
  const store = await BenchKvStore.start(
    {
      KVTIER_NAMESPACE: `bench${randomUUID().slice(0, 8)}`,
      KVTIER_KVSTORE_ID: "kvstore-bench",
      KVTIER_HOST_CAPACITY_BYTES: String(4 * WORKING_SET_BYTES),
    },
    values.profile ? ["--cpu-prof", "--cpu-prof-dir", values.profile] : [],
  );
  const figures: Record<string, Record<string, unknown>> = {};
  const notes: string[] = [];
  try {
    for (const size of sizes) {
      const ws = makeWorkingSet(size, Math.max(1, Math.floor(WORKING_SET_BYTES / size)));
      const runBlocks = Math.max(1, Math.round(RUN_BYTES / ws.blockBytes));
      const depth = Math.max(1, Math.round(inFlight / RUN_BYTES));
      const blockDepth = Math.max(1, Math.round(inFlight / ws.blockBytes));
      const f: Record<string, Figure | null> = {};
      say(
        `\n== ${size / 1024} KiB blocks (${ws.blockBytes} bytes with header), ${ws.blocks.length} in the working set, runs of ${runBlocks}`,
      );
      if (peer) {
        f.tcp_put = await peer.put(ws.blocks, moved);
        f.tcp_get = await peer.get(ws.blockBytes, WORKING_SET_BYTES, moved);
        f.memcpy = memcpy(ws.blocks, moved);
        f.verify = verifyOnly(ws.blocks, moved);
      }
      for (const path of ["tcp", "shm", "grpc"] as const) {
        if (!parts.has(path)) continue;
        const r = await measurePath(store, path, ws, moved, runBlocks, depth);
        const name = path === "tcp" ? "fast" : path;
        if ("unavailable" in r) notes.push(`${name} @${size}: ${r.unavailable}`);
        else [f[`${name}_put`], f[`${name}_get`]] = [r.put, r.get];
      }
      if (parts.has("redis")) {
        const r = await measureRedis(redisUrl, ws, moved, blockDepth);
        if ("unavailable" in r) notes.push(`redis @${size}: ${r.unavailable}`);
        else [f.redis_set, f.redis_get] = [r.set, r.get];
      }
      if (parts.has("ssd")) {
        const dir = join(tmpdir(), `kvtier-bench-${process.pid}`);
        const file = await plainFiles(join(dir, "files"), ws.blocks, moved, FILE_DEPTH);
        const ssd = await measureSsdTier(join(dir, "ssd"), ws, moved, FILE_DEPTH);
        [f.file_write, f.file_read, f.ssd_write, f.ssd_read] = [file.write, file.read, ssd.write, ssd.read];
      }
      for (const [k, v] of Object.entries(f)) say(describe(k, v));
      figures[String(size)] = { block_bytes: ws.blockBytes, ...Object.fromEntries(Object.entries(f).map(([k, v]) => [k, json(v)])) };
      (figures[String(size)] as Record<string, unknown>).__raw = f;
    }
  } finally {
    clearTimeout(watchdog);
    await store.stop();
    peer?.stop();
  }
  const head = (figures[String(HEADLINE_SIZE)]?.__raw ?? {}) as Record<string, Figure | null>;
  for (const v of Object.values(figures)) delete v.__raw;
  const summary = {
    block_size_bytes: HEADLINE_SIZE,
    fast_get_vs_tcp: ratio(head.fast_get, head.tcp_get),
    fast_put_vs_tcp: ratio(head.fast_put, head.tcp_put),
    fast_get_vs_redis: ratio(head.fast_get, head.redis_get),
    fast_put_vs_redis: ratio(head.fast_put, head.redis_set),
    shm_get_vs_tcp: ratio(head.shm_get, head.tcp_get),
    shm_put_vs_tcp: ratio(head.shm_put, head.tcp_put),
    shm_get_vs_memcpy: ratio(head.shm_get, head.memcpy),
    grpc_get_vs_tcp: ratio(head.grpc_get, head.tcp_get),
    grpc_put_vs_tcp: ratio(head.grpc_put, head.tcp_put),
    ssd_read_vs_file: ratio(head.ssd_read, head.file_read),
    ssd_write_vs_file: ratio(head.ssd_write, head.file_write),
    load_avg_end: loadavg().map(round),
    notes,
    figures,
  };
  say("");
  return summary;
};
