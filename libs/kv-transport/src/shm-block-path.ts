// The co-located path, client side: block bytes go through this client's arena in the store's
// shm directory (/dev/shm), and only small control frames (hashes, sizes, offsets) go over the
// TCP connection. A get: the store writes the run into a slot (pwritev from its own buffers) and
// answers with sizes; the client reads the slot into one buffer (preadv) and verifies every block
// here (verifiedRun -> verifyKvBlock) before handing out subarrays. A put: the client writes the
// blocks into a slot; the store reads them and verifies them as it does every put.
import type { BlockPath, BlockPutResult, BlockRun, OutgoingBlock, PathCallOptions, PutRunOptions } from "./block-path.js";
import { DataConnection, type FastEndpoint } from "./data-connection.js";
import { FrameFlag, FrameKind, MAX_RUN_BLOCKS } from "./frame-format.js";
import { decodeGetResult, decodePutResult, encodeAttach, encodeGetRun, encodePutRun } from "./frame-messages.js";
import { groupRun, splitBlocks } from "./run-split.js";
import {
  DEFAULT_SHM_SLOTS,
  DEFAULT_SHM_SLOT_BYTES,
  ShmArena,
  readAllAt,
  writeAllAt,
  type ArenaSlot,
  type ShmLocation,
} from "./shm-arena.js";
import { answerOf, appendAnswer, assertOneCodec, checkedOutcomes, failedResults } from "./tcp-block-path.js";
import { TransportError, unavailable } from "./transport-error.js";

/** How long attaching an arena may take. */
const SHM_ATTACH_TIMEOUT_MS = 5_000;

/** Options of {@link ShmBlockPath.open}. */
export interface ShmPathOptions {
  /** Bytes per arena slot. @default DEFAULT_SHM_SLOT_BYTES (64 MiB) */
  slotBytes?: number;
  /** Slots (runs in flight). @default DEFAULT_SHM_SLOTS (4) */
  slots?: number;
}

/** A rejection handler that records whether the store answered (an ERROR frame) before rethrowing. */
function answeredOrNot(record: (answered: boolean) => void): (err: unknown) => never {
  return (err) => {
    record(err instanceof TransportError && !["DEADLINE_EXCEEDED", "UNAVAILABLE", "CANCELLED"].includes(err.code));
    throw err;
  };
}

/** Shared memory with a store on the same machine, controlled over its fast port. */
export class ShmBlockPath implements BlockPath {
  readonly name = "shm" as const;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly conn: DataConnection,
    /** The arena file; exposed so tests can check it is removed. */
    readonly arena: ShmArena,
  ) {}

  /** Create an arena under `loc`, connect (authenticating with `credential`) and have the store attach it; cleans up on failure. */
  static async open(ep: FastEndpoint, credential: Uint8Array, loc: ShmLocation, opts: ShmPathOptions = {}): Promise<ShmBlockPath> {
    const arena = await ShmArena.create(loc, opts.slotBytes ?? DEFAULT_SHM_SLOT_BYTES, opts.slots ?? DEFAULT_SHM_SLOTS);
    let conn: DataConnection | undefined;
    try {
      conn = await DataConnection.open(ep, credential);
      const meta = encodeAttach({ name: arena.name, arenaBytes: arena.arenaBytes });
      await conn.request(FrameKind.SHM_ATTACH, 0, 0, meta, [], Date.now() + SHM_ATTACH_TIMEOUT_MS);
      return new ShmBlockPath(conn, arena);
    } catch (err) {
      conn?.close();
      await arena.close();
      throw err;
    }
  }

  get usable(): boolean {
    return this.conn.usable && this.closing === undefined && this.arena.liveSlots > 0;
  }

  async getRun(hashes: Uint8Array[], codec: string, opts: PathCallOptions): Promise<BlockRun> {
    const run: BlockRun = { blocks: [], bytes: 0, corrupt: 0 };
    const slot = await this.arena.acquire(opts.deadline);
    let clean = true;
    try {
      let from = 0;
      while (from < hashes.length) {
        const asked = hashes.slice(from, from + MAX_RUN_BLOCKS);
        const meta = encodeGetRun({ codec, hashes: asked, maxBytes: 0, window: { offset: slot.offset, bytes: slot.bytes } });
        clean = false;
        const f = await this.conn
          .request(FrameKind.GET_RUN_SHM, 0, asked.length, meta, [], opts.deadline)
          .catch(answeredOrNot((a) => (clean = a)));
        clean = true;
        const res = answerOf(() => decodeGetResult(f.header, f.meta, true));
        const total = res.sizes.reduce((a, b) => a + b, 0);
        if (total > slot.bytes) throw unavailable("protocol", `the store wrote ${total} bytes into a ${slot.bytes}-byte slot`);
        const buf = Buffer.allocUnsafeSlow(total);
        await readAllAt(this.arena.fh, [buf], slot.offset);
        if (!appendAnswer(run, asked, codec, splitBlocks(buf, res.sizes), res.limited)) break;
        from += res.sizes.length;
      }
    } finally {
      this.settle(slot, clean);
    }
    return run;
  }

  async putRun(blocks: OutgoingBlock[], ack: "memory" | "durable", opts: PutRunOptions): Promise<BlockPutResult[]> {
    if (blocks.length === 0) return [];
    const codec = assertOneCodec(blocks);
    const flags = (ack === "durable" ? FrameFlag.ACK_DURABLE : 0) | (opts.requestScoped ? FrameFlag.REQUEST_SCOPED : 0);
    const groups = groupRun(
      blocks.map((b) => b.bytes.length),
      this.arena.slotBytes,
    );
    const answers = await Promise.all(
      groups.map(async ([a, b]) => {
        const part = blocks.slice(a, b);
        const slot = await this.arena.acquire(opts.deadline);
        let answered = false;
        try {
          await writeAllAt(
            this.arena.fh,
            part.map((p) => p.bytes),
            slot.offset,
          );
          const meta = encodePutRun({
            codec,
            hashes: part.map((p) => p.hash),
            sizes: part.map((p) => p.bytes.length),
            durable: ack === "durable",
            windowOffset: slot.offset,
          });
          const f = await this.conn
            .request(FrameKind.PUT_RUN_SHM, flags, part.length, meta, [], opts.deadline)
            .catch(answeredOrNot((a) => (answered = a)));
          answered = true;
          return answerOf(() => checkedOutcomes(decodePutResult(f.header, f.meta), part.length));
        } catch (err) {
          if (err instanceof TransportError && err.code !== "UNAVAILABLE" && err.code !== "CANCELLED" && err.code !== "INTERNAL")
            return failedResults(part.length, err);
          throw err;
        } finally {
          this.settle(slot, answered);
        }
      }),
    );
    return answers.flat();
  }

  /** Release a slot whose request was answered; retire one the store may still touch. */
  private settle(slot: ArenaSlot, answered: boolean): void {
    if (answered) this.arena.release(slot);
    else this.arena.retire(slot);
  }

  /** Close the connection and remove the arena file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.conn.close();
      await this.arena.close();
    })();
    return this.closing;
  }
}
