// Throughput and latency of a stream of operations kept a fixed number deep: the timing core of
// `pnpm bench store`. Each operation moves a known number of bytes; the figure is bytes moved
// over wall time, plus the p50/p99 of the operations' own latencies.

/** One measured figure. */
export interface Figure {
  /** Gigabytes (1e9 bytes) per second. */
  gbps: number;
  bytes: number;
  seconds: number;
  /** Latency of one operation (one call), in milliseconds; null when not meaningful. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Bytes per operation. */
  opBytes: number;
}

/** The q-quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Run `op(i)` for i = 0, 1, ... with at most `depth` in flight until `totalBytes` are moved
 * (each op moves `opBytes`); `before(round)` runs untimed between rounds of `roundOps` ops (to
 * reset state, e.g. delete what a put round stored).
 */
export async function measureOps(opts: {
  totalBytes: number;
  opBytes: number;
  depth: number;
  op: (i: number) => Promise<void>;
  roundOps?: number;
  beforeRound?: (round: number) => Promise<void>;
}): Promise<Figure> {
  const ops = Math.ceil(opts.totalBytes / opts.opBytes);
  const roundOps = opts.roundOps ?? ops;
  const latencies: number[] = [];
  let seconds = 0;
  for (let start = 0, round = 0; start < ops; start += roundOps, round++) {
    await opts.beforeRound?.(round);
    const end = Math.min(ops, start + roundOps);
    let next = start;
    const t0 = performance.now();
    const lane = async (): Promise<void> => {
      while (next < end) {
        const i = next++;
        const t = performance.now();
        await opts.op(i);
        latencies.push(performance.now() - t);
      }
    };
    await Promise.all(Array.from({ length: Math.min(opts.depth, end - start) }, lane));
    seconds += (performance.now() - t0) / 1000;
  }
  latencies.sort((a, b) => a - b);
  const bytes = ops * opts.opBytes;
  return { gbps: bytes / 1e9 / seconds, bytes, seconds, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), opBytes: opts.opBytes };
}

/** A figure measured as one stream (no per-op latency). */
export function streamFigure(bytes: number, seconds: number, opBytes: number): Figure {
  return { gbps: bytes / 1e9 / seconds, bytes, seconds, p50Ms: null, p99Ms: null, opBytes };
}

/** `a / b` rounded to 3 decimals, or null when either is missing. */
export function ratio(a: Figure | null | undefined, b: Figure | null | undefined): number | null {
  if (!a || !b || !(b.gbps > 0)) return null;
  return Math.round((a.gbps / b.gbps) * 1000) / 1000;
}

/** One printed line of a figure. */
export function describe(name: string, f: Figure | null, note = ""): string {
  if (!f) return `${name.padEnd(28)} n/a ${note}`;
  const lat = f.p50Ms === null ? "" : `  p50 ${f.p50Ms.toFixed(2)} ms  p99 ${f.p99Ms!.toFixed(2)} ms per ${(f.opBytes / 2 ** 20).toFixed(2)} MiB call`;
  return `${name.padEnd(28)} ${f.gbps.toFixed(3).padStart(7)} GB/s  (${(f.bytes / 2 ** 30).toFixed(2)} GiB in ${f.seconds.toFixed(2)} s)${lat} ${note}`;
}
