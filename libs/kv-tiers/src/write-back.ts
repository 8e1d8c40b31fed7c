// Write-back from the host tier to the SSD tier, and write-through. Blocks the host evicts are
// copied to SSD only when reused (at least `minAccesses` uses, remembered ones included: the host
// policy's ghost history credits a block that comes back), so one-off blocks never wear the disk.
// Write-through copies every put. Writes run in the background, a few at a time, under a byte
// bound; past it, blocks are dropped rather than queued without limit.
import { readKvBlockHeader } from "@kvtier/tensor";
import type { BlockKey } from "./block-key.js";
import type { SsdTier } from "./ssd-tier.js";
import { SsdWriteError, type SsdWriteFailure } from "./ssd-tier.js";

/** Default uses a block needs before write-back copies it to SSD (1 = every evicted block). */
export const DEFAULT_SSD_ADMIT_MIN_ACCESSES = 2;
/** Bytes of blocks waiting for or being written to SSD at once. */
const MAX_WRITE_BACK_QUEUED_BYTES = 256 * 1024 * 1024;
/** SSD writes in flight at once. */
const WRITE_BACK_CONCURRENCY = 4;

/** Why a block is copied to SSD in the background. */
export type WriteBackCause = "eviction" | "write_through";

/** What an offer did: queued, refused by the reuse gate, dropped (queue full), or nothing to do. */
export type WriteBackAdmission = "queued" | "not_reused" | "queue_full" | "already_held";

/** How a background write ended. */
export type WriteBackResult = "written" | "existing" | "conflict" | SsdWriteFailure;

/** A block offered for the SSD tier. */
export interface WriteBackBlock {
  key: BlockKey;
  bytes: Uint8Array;
  parent: Uint8Array | undefined;
}

/** Called when a background write ends. */
export type WriteBackListener = (block: WriteBackBlock, cause: WriteBackCause, result: WriteBackResult, err?: unknown) => void;

interface Job {
  block: WriteBackBlock;
  cause: WriteBackCause;
}

/** The background copier into one SSD tier. */
export class WriteBack {
  private readonly queue: Job[] = [];
  private queuedBytes = 0;
  private running = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly ssd: SsdTier,
    private readonly minAccesses: number,
    private readonly onDone: WriteBackListener,
    private readonly maxQueuedBytes = MAX_WRITE_BACK_QUEUED_BYTES,
  ) {}

  /** Offer a block; `accesses` is ignored for write-through. */
  offer(block: WriteBackBlock, cause: WriteBackCause, accesses: number): WriteBackAdmission {
    if (this.ssd.has(block.key)) return "already_held";
    if (cause === "eviction" && accesses < this.minAccesses) return "not_reused";
    if (this.queuedBytes + block.bytes.byteLength > this.maxQueuedBytes) return "queue_full";
    this.queue.push({ block, cause });
    this.queuedBytes += block.bytes.byteLength;
    this.pump();
    return "queued";
  }

  /** Resolves once nothing is queued or being written. */
  drain(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private pump(): void {
    while (this.running < WRITE_BACK_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.running += 1;
      void this.write(job).finally(() => {
        this.running -= 1;
        this.queuedBytes -= job.block.bytes.byteLength;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async write(job: Job): Promise<void> {
    const { block } = job;
    try {
      const checksum = readKvBlockHeader(block.bytes).checksum;
      const outcome = await this.ssd.write(block.key, block.bytes, { parent: block.parent, checksum, durable: false });
      this.onDone(block, job.cause, outcome === "created" ? "written" : outcome);
    } catch (err) {
      this.onDone(block, job.cause, err instanceof SsdWriteError ? err.code : "io", err);
    }
  }
}
