// The network fast path, client side: runs of blocks over one pipelined, length-framed TCP
// connection. Puts send the caller's buffers by reference (writev); gets are read by the kernel
// into one buffer per answer and handed out as subarrays after each block is verified here
// (verifiedRun -> verifyKvBlock): the receive-side checksum check of the TCP path.
import type { BlockPath, BlockPutResult, BlockRun, OutgoingBlock, PathCallOptions, PutRunOptions } from "./block-path.js";
import { verifiedRun } from "./block-verify.js";
import { DataConnection, type FastEndpoint } from "./data-connection.js";
import { FrameFlag, FrameKind, MAX_FRAME_PAYLOAD_BYTES, MAX_RUN_BLOCKS } from "./frame-format.js";
import { decodeGetResult, decodePutResult, encodeGetRun, encodePutRun, type BlockPutOutcome } from "./frame-messages.js";
import { groupRun, splitBlocks } from "./run-split.js";
import { TransportError, unavailable } from "./transport-error.js";

/** Decode an answer; one that does not decode is the store's fault: UNAVAILABLE (another path may do). */
export function answerOf<T>(decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw unavailable("protocol", `unreadable answer from the store: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** What a put outcome means to the caller. */
function putResultOf(o: BlockPutOutcome): BlockPutResult {
  if (o.outcome !== "refused") return { created: o.outcome === "created" };
  const e = o.error;
  return { created: false, error: new TransportError(e.code, e.reason, e.field, e.message, { retryAfterMs: e.retryAfterMs || undefined }) };
}

/** The per-block results of an answer that must cover `n` blocks. */
export function checkedOutcomes(outcomes: BlockPutOutcome[], n: number): BlockPutResult[] {
  if (outcomes.length !== n) throw new TransportError("INTERNAL", "protocol", "outcomes", `${outcomes.length} outcomes for ${n} blocks`);
  return outcomes.map(putResultOf);
}

/** Outcomes for a request that failed as a whole (every block gets the same error). */
export const failedResults = (n: number, err: Error): BlockPutResult[] =>
  Array.from({ length: n }, () => ({ created: false as const, error: err }));

/** Codec runs must be uniform; a mixed list is split by the caller. */
export function assertOneCodec(blocks: readonly OutgoingBlock[]): string {
  const codec = blocks[0].codec;
  if (blocks.some((b) => b.codec !== codec))
    throw new TransportError("INVALID_ARGUMENT", "mixed_codecs", "blocks", "a put run carries blocks of one codec");
  return codec;
}

/** Append a verified answer to `run`; returns false when the run is over (miss, limit of nothing, or corrupt block). */
export function appendAnswer(run: BlockRun, asked: Uint8Array[], codec: string, blocks: Uint8Array[], limited: boolean): boolean {
  if (blocks.length > asked.length) {
    run.corrupt += 1;
    return false;
  }
  const v = verifiedRun(blocks, asked, codec);
  run.blocks.push(...v.blocks);
  run.bytes += v.bytes;
  run.corrupt += v.corrupt;
  if (v.corrupt > 0 || blocks.length === 0) return false;
  return limited || blocks.length === asked.length;
}

/** Length-framed TCP to one store's fast port. */
export class TcpBlockPath implements BlockPath {
  readonly name = "tcp" as const;

  private constructor(private readonly conn: DataConnection) {}

  /** Connect to `ep` and authenticate with `credential` (the service token's bytes). */
  static async open(ep: FastEndpoint, credential: Uint8Array): Promise<TcpBlockPath> {
    return new TcpBlockPath(await DataConnection.open(ep, credential));
  }

  get usable(): boolean {
    return this.conn.usable;
  }

  async getRun(hashes: Uint8Array[], codec: string, opts: PathCallOptions): Promise<BlockRun> {
    const run: BlockRun = { blocks: [], bytes: 0, corrupt: 0 };
    let from = 0;
    while (from < hashes.length) {
      const asked = hashes.slice(from, from + MAX_RUN_BLOCKS);
      const f = await this.conn.request(
        FrameKind.GET_RUN,
        0,
        asked.length,
        encodeGetRun({ codec, hashes: asked, maxBytes: 0 }),
        [],
        opts.deadline,
      );
      const res = answerOf(() => decodeGetResult(f.header, f.meta, false));
      const blocks = f.payload.length === 0 ? [] : splitBlocks(f.payload[0], res.sizes);
      if (!appendAnswer(run, asked, codec, blocks, res.limited)) break;
      from += blocks.length;
    }
    return run;
  }

  async putRun(blocks: OutgoingBlock[], ack: "memory" | "durable", opts: PutRunOptions): Promise<BlockPutResult[]> {
    if (blocks.length === 0) return [];
    const codec = assertOneCodec(blocks);
    const flags = (ack === "durable" ? FrameFlag.ACK_DURABLE : 0) | (opts.requestScoped ? FrameFlag.REQUEST_SCOPED : 0);
    const groups = groupRun(
      blocks.map((b) => b.bytes.length),
      MAX_FRAME_PAYLOAD_BYTES,
    );
    const answers = await Promise.all(
      groups.map(async ([a, b]) => {
        const part = blocks.slice(a, b);
        const meta = encodePutRun({
          codec,
          hashes: part.map((p) => p.hash),
          sizes: part.map((p) => p.bytes.length),
          durable: ack === "durable",
        });
        try {
          const f = await this.conn.request(
            FrameKind.PUT_RUN,
            flags,
            part.length,
            meta,
            part.map((p) => p.bytes),
            opts.deadline,
          );
          return answerOf(() => checkedOutcomes(decodePutResult(f.header, f.meta), part.length));
        } catch (err) {
          if (err instanceof TransportError && err.code !== "UNAVAILABLE" && err.code !== "CANCELLED")
            return failedResults(part.length, err);
          throw err;
        }
      }),
    );
    return answers.flat();
  }

  close(): Promise<void> {
    this.conn.close();
    return Promise.resolve();
  }
}
