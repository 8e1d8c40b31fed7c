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
  /** CPU seconds per GiB of this process and of the process on the other side, when measured. */
  cpu?: { client: number | null; server: number | null };
}

/** The q-quantile of sorted values. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Run `op(i)` for i = 0, 1, ... with at most `depth` in flight until `totalBytes` are moved
 * (each op moves `opBytes`), in whole rounds of `roundOps` ops; `beforeRound(round)` runs
 * untimed before each round (to reset state, e.g. delete what the previous put round stored).
 */
export async function measureOps(opts: {
  totalBytes: number;
  opBytes: number;
  depth: number;
  op: (i: number) => Promise<void>;
  roundOps?: number;
  beforeRound?: (round: number) => Promise<void>;
  /** Counts CPU time of both sides over the timed rounds. */
  cpu?: { begin(): void; seconds(): { client: number | null; server: number | null } };
}): Promise<Figure> {
  const roundOps = opts.roundOps ?? Math.ceil(opts.totalBytes / opts.opBytes);
  // Whole rounds only: what a round stores is what the next phase reads.
  const ops = Math.ceil(Math.ceil(opts.totalBytes / opts.opBytes) / roundOps) * roundOps;
  const latencies: number[] = [];
  let seconds = 0;
  const cpu: { client: number | null; server: number | null } = { client: 0, server: 0 };
  for (let start = 0, round = 0; start < ops; start += roundOps, round++) {
    await opts.beforeRound?.(round);
    const end = Math.min(ops, start + roundOps);
    opts.cpu?.begin();
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
    const used = opts.cpu?.seconds();
    if (used) {
      const add = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b);
      [cpu.client, cpu.server] = [add(cpu.client, used.client), add(cpu.server, used.server)];
    }
  }
  latencies.sort((a, b) => a - b);
  const bytes = ops * opts.opBytes;
  const gib = bytes / 2 ** 30;
  const perGib = (x: number | null): number | null => (x === null ? null : Math.round((x / gib) * 1000) / 1000);
  const cpuFigure = opts.cpu ? { client: perGib(cpu.client), server: perGib(cpu.server) } : undefined;
  return {
    gbps: bytes / 1e9 / seconds,
    bytes,
    seconds,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    opBytes: opts.opBytes,
    cpu: cpuFigure,
  };
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
  const cpu = f.cpu ? `  cpu s/GiB client ${f.cpu.client ?? "?"} server ${f.cpu.server ?? "?"}` : "";
  const lat =
    f.p50Ms === null
      ? ""
      : `  p50 ${f.p50Ms.toFixed(2)} ms  p99 ${f.p99Ms!.toFixed(2)} ms per ${(f.opBytes / 2 ** 20).toFixed(2)} MiB call`;
  return `${name.padEnd(28)} ${f.gbps.toFixed(3).padStart(7)} GB/s  (${(f.bytes / 2 ** 30).toFixed(2)} GiB in ${f.seconds.toFixed(2)} s)${lat}${cpu} ${note}`;
}
