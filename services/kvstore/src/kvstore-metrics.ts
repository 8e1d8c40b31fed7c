// The kvstore's Prometheus metrics, all named kvtier_kvstore_*. Occupancy is read from the store
// at scrape time; everything else is counted as it happens.
import { Counter, Gauge, type Registry } from "prom-client";
import type { ChecksumStage, StoreObserver } from "./block-events.js";
import type { TierOccupancy } from "./block-store.js";
import type { PutRefusalReason } from "./put-refusal.js";
import type { TierName, WriteBackAdmission, WriteBackCause, WriteBackResult } from "@kvtier/kv-tiers";

/** How block bytes moved: "grpc" streaming, "tcp" the length-framed fast path, "shm" the co-located arena. */
export type DataPath = "grpc" | "tcp" | "shm";

/** A data-path request kind, the `op` label of kvtier_kvstore_data_requests_total. */
export type DataOp = "put" | "get" | "attach";

export type { ChecksumStage } from "./block-events.js";

/** Occupancy of one tier (defined by the store). */
export type { TierOccupancy };

/** Every metric the kvstore exports. */
export class KvStoreMetrics implements StoreObserver {
  private readonly hits: Counter<"tier">;
  private readonly misses: Counter<"tier">;
  private readonly evictions: Counter<"tier">;
  private readonly readBytes: Counter<"tier" | "path">;
  private readonly writtenBytes: Counter<"tier" | "path">;
  private readonly checksumFailures: Counter<"stage">;
  private readonly refused: Counter<"reason">;
  private readonly puts: Counter<"result">;
  private readonly dataRequests: Counter<"path" | "op">;
  private readonly dataErrors: Counter<"path" | "reason">;
  private readonly promotions: Counter<"from" | "to">;
  private readonly demotions: Counter<"from" | "to">;
  private readonly tierIoBytes: Counter<"tier" | "op">;
  private readonly ssdOffers: Counter<"cause" | "admission">;
  private readonly ssdWrites: Counter<"cause" | "result">;
  private occupancy: () => TierOccupancy[] = () => [];
  private leaseCounts: () => { leases: number; blocks: number } = () => ({ leases: 0, blocks: 0 });

  constructor(registry: Registry) {
    const registers = [registry];
    const occupancyGauge = (name: string, help: string, pick: (o: TierOccupancy) => number): Gauge<"tier"> => {
      const read = (): TierOccupancy[] => this.occupancy();
      return new Gauge({
        name,
        help,
        labelNames: ["tier"],
        registers,
        collect() {
          for (const o of read()) this.set({ tier: o.tier }, pick(o));
        },
      });
    };
    occupancyGauge("kvtier_kvstore_occupancy_bytes", "Bytes of block data held, per tier.", (o) => o.bytes);
    occupancyGauge("kvtier_kvstore_occupancy_blocks", "Blocks held, per tier.", (o) => o.blocks);
    occupancyGauge("kvtier_kvstore_capacity_bytes", "Bytes of block data each tier may hold.", (o) => o.capacityBytes);
    this.hits = new Counter({
      name: "kvtier_kvstore_hits_total",
      help: "Requested blocks served, per tier.",
      labelNames: ["tier"],
      registers,
    });
    this.misses = new Counter({
      name: "kvtier_kvstore_misses_total",
      help: "Requested blocks a tier did not hold (host misses served by SSD included; a run ends at a block no tier holds).",
      labelNames: ["tier"],
      registers,
    });
    this.evictions = new Counter({
      name: "kvtier_kvstore_evictions_total",
      help: "Blocks dropped to make room, per tier.",
      labelNames: ["tier"],
      registers,
    });
    this.readBytes = new Counter({
      name: "kvtier_kvstore_read_bytes_total",
      help: "Block bytes served, per tier and data path.",
      labelNames: ["tier", "path"],
      registers,
    });
    this.writtenBytes = new Counter({
      name: "kvtier_kvstore_written_bytes_total",
      help: "Block bytes stored by puts, per tier and data path.",
      labelNames: ["tier", "path"],
      registers,
    });
    this.checksumFailures = new Counter({
      name: "kvtier_kvstore_checksum_failures_total",
      help: "Blocks whose CRC-32 did not match, per stage.",
      labelNames: ["stage"],
      registers,
    });
    this.refused = new Counter({
      name: "kvtier_kvstore_puts_refused_total",
      help: "Puts refused, per reason.",
      labelNames: ["reason"],
      registers,
    });
    this.puts = new Counter({
      name: "kvtier_kvstore_puts_total",
      help: "Puts accepted: created, or already stored (idempotent).",
      labelNames: ["result"],
      registers,
    });
    this.dataRequests = new Counter({
      name: "kvtier_kvstore_data_requests_total",
      help: "Data-path requests (a put or get of a run), per path and op.",
      labelNames: ["path", "op"],
      registers,
    });
    this.promotions = new Counter({
      name: "kvtier_kvstore_promotions_total",
      help: "Blocks copied up a tier on a hit (ssd to host).",
      labelNames: ["from", "to"],
      registers,
    });
    this.demotions = new Counter({
      name: "kvtier_kvstore_demotions_total",
      help: "Blocks evicted from a tier and written back to the one below (host to ssd).",
      labelNames: ["from", "to"],
      registers,
    });
    this.tierIoBytes = new Counter({
      name: "kvtier_kvstore_tier_io_bytes_total",
      help: "Block bytes written into or read out of each tier's storage, whatever the data path (puts, promotions, write-back, SSD reads).",
      labelNames: ["tier", "op"],
      registers,
    });
    this.ssdOffers = new Counter({
      name: "kvtier_kvstore_ssd_offers_total",
      help: "Blocks offered to the SSD tier, per cause (eviction, write_through) and what the reuse gate did.",
      labelNames: ["cause", "admission"],
      registers,
    });
    this.ssdWrites = new Counter({
      name: "kvtier_kvstore_ssd_writes_total",
      help: "Background SSD writes, per cause and result (written, existing, conflict, no_space, over_capacity, io).",
      labelNames: ["cause", "result"],
      registers,
    });
    const leases = (): { leases: number; blocks: number } => this.leaseCounts();
    new Gauge({
      name: "kvtier_kvstore_leases",
      help: "Leases held.",
      registers,
      collect() {
        this.set(leases().leases);
      },
    });
    new Gauge({
      name: "kvtier_kvstore_leased_blocks",
      help: "Blocks pinned by leases.",
      registers,
      collect() {
        this.set(leases().blocks);
      },
    });
    this.dataErrors = new Counter({
      name: "kvtier_kvstore_data_errors_total",
      help: "Fast-path frames or requests refused, per path and reason.",
      labelNames: ["path", "reason"],
      registers,
    });
  }

  /** Read occupancy from `source` at every scrape. */
  observeOccupancy(source: () => TierOccupancy[]): void {
    this.occupancy = source;
  }

  /** Read lease counts from `source` at every scrape. */
  observeLeases(source: () => { leases: number; blocks: number }): void {
    this.leaseCounts = source;
  }

  promoted(from: TierName, to: TierName): void {
    this.promotions.inc({ from, to });
  }

  demoted(from: TierName, to: TierName): void {
    this.demotions.inc({ from, to });
  }

  tierIo(tier: TierName, op: "read" | "write", bytes: number): void {
    this.tierIoBytes.inc({ tier, op }, bytes);
  }

  checksumFailed(stage: ChecksumStage): void {
    this.checksumFailures.inc({ stage });
  }

  ssdOffered(cause: WriteBackCause, admission: WriteBackAdmission): void {
    this.ssdOffers.inc({ cause, admission });
  }

  ssdWritten(cause: WriteBackCause, result: WriteBackResult): void {
    this.ssdWrites.inc({ cause, result });
  }

  hit(tier: TierName): void {
    this.hits.inc({ tier });
  }

  miss(tier: TierName): void {
    this.misses.inc({ tier });
  }

  evicted(tier: TierName, blocks: number): void {
    this.evictions.inc({ tier }, blocks);
  }

  read(tier: TierName, path: DataPath, bytes: number): void {
    this.readBytes.inc({ tier, path }, bytes);
  }

  written(tier: TierName, path: DataPath, bytes: number): void {
    this.writtenBytes.inc({ tier, path }, bytes);
  }

  dataRequest(path: DataPath, op: DataOp): void {
    this.dataRequests.inc({ path, op });
  }

  dataError(path: DataPath, reason: string): void {
    this.dataErrors.inc({ path, reason });
  }

  putAccepted(created: boolean): void {
    this.puts.inc({ result: created ? "created" : "existing" });
  }

  putRefused(reason: PutRefusalReason): void {
    this.refused.inc({ reason });
    if (reason === "checksum") this.checksumFailed("receive");
  }
}
