// The portable data path: KvStoreService Put (one block per call, chunks of at most
// MAX_CHUNK_BYTES) and Get (a run, streamed as a header and chunks per block). Every block
// received is reassembled and verified here before it is handed out: the receive-side checksum
// check of the gRPC path. A corrupt block is never returned; it ends the run and is counted.
import { Metadata, status, type CallOptions, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import { AckLevel, type GetResponse, type KvStoreServiceClient, type PutRequest } from "@kvtier/proto";
import { messageOf } from "@kvtier/core";
import { MAX_KV_BLOCK_BYTES } from "@kvtier/tensor";
import type { BlockPath, BlockPutResult, BlockRun, OutgoingBlock, PathCallOptions, PutRunOptions } from "./block-path.js";
import { verifyReceivedBlock } from "./block-verify.js";
import { TransportError, transportCodeOf } from "./transport-error.js";

/** Blocks of a put run sent as concurrent Put calls. */
const GRPC_PUT_CONCURRENCY = 4;
/** Block bytes travel in Put and Get messages of at most this many bytes. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** A block being reassembled from Get chunks. */
interface Incoming {
  buf: Uint8Array;
  filled: number;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/** The field and retry hint a kvstore sent in a failed call's metadata (`kvtier-field`, `retry-after-ms`). */
export function grpcStatusHints(err: unknown): { field?: string; retryAfterMs?: number } {
  const md = (err as Partial<ServiceError>).metadata;
  const first = (key: string): string | undefined => (md instanceof Metadata ? md.get(key)[0]?.toString() : undefined);
  const retry = first("retry-after-ms");
  return { field: first("kvtier-field"), retryAfterMs: retry === undefined ? undefined : Number(retry) };
}

/** The TransportError of a failed call: the status's code, and the field and retry hint the store sent. */
function callError(err: unknown): TransportError {
  if (err instanceof TransportError) return err;
  const code = (err as { code?: unknown }).code;
  if (!(err instanceof Error) || typeof code !== "number")
    return new TransportError("INTERNAL", "grpc", "", messageOf(err), { cause: err });
  const { field, retryAfterMs } = grpcStatusHints(err);
  const name = (status[code] as string | undefined) ?? "INTERNAL";
  return new TransportError(transportCodeOf(name), "grpc", field ?? "", (err as Partial<ServiceError>).details ?? err.message, {
    retryAfterMs,
    cause: err,
  });
}

/** Block bytes over the KvStoreService streams of a client the caller owns. */
export class GrpcBlockPath implements BlockPath {
  readonly name = "grpc" as const;
  readonly usable = true;

  constructor(private readonly client: KvStoreServiceClient) {}

  async putRun(blocks: OutgoingBlock[], ack: "memory" | "durable", opts: PutRunOptions): Promise<BlockPutResult[]> {
    const out: BlockPutResult[] = [];
    for (let i = 0; i < blocks.length; i += GRPC_PUT_CONCURRENCY) {
      const part = blocks.slice(i, i + GRPC_PUT_CONCURRENCY);
      const settled = await Promise.allSettled(part.map((b) => this.put(b, ack, opts)));
      for (const s of settled) out.push(s.status === "fulfilled" ? { created: s.value } : { created: false, error: callError(s.reason) });
    }
    return out;
  }

  /** One Put call: the header, then chunks; resolves to `created`. */
  put(block: OutgoingBlock, ack: "memory" | "durable", opts: PutRunOptions): Promise<boolean> {
    const wireAck = ack === "durable" ? AckLevel.ACK_LEVEL_DURABLE : AckLevel.ACK_LEVEL_MEMORY;
    let answered = false;
    let call!: ClientWritableStream<PutRequest>;
    const answer = new Promise<boolean>((resolve, reject) => {
      call = this.client.put(this.callOptions(opts), (err, res) => {
        answered = true;
        if (err) reject(callError(err));
        else resolve(res.created);
      });
    });
    const settled = answer.then(
      () => undefined,
      () => undefined,
    );
    const send = async (msg: PutRequest): Promise<boolean> => {
      if (answered) return false;
      if (!call.write(msg)) await Promise.race([new Promise((r) => call.once("drain", r)), settled]);
      return true;
    };
    void (async () => {
      const bytes = block.bytes;
      if (
        await send({
          part: {
            $case: "header",
            value: {
              blockHash: block.hash,
              codec: block.codec,
              totalBytes: bytes.length,
              ack: wireAck,
              requestScoped: opts.requestScoped === true,
            },
          },
        })
      ) {
        for (let at = 0; at < bytes.length; at += MAX_CHUNK_BYTES) {
          if (!(await send({ part: { $case: "chunk", value: bytes.subarray(at, at + MAX_CHUNK_BYTES) } }))) break;
        }
      }
      if (!answered) call.end();
    })();
    return answer;
  }

  /**
   * The leading run of `hashes`; each block is reassembled and verified on receipt and must carry
   * the hash requested at its position; the first that does not ends the run and is counted.
   */
  getRun(hashes: Uint8Array[], codec: string, opts: PathCallOptions): Promise<BlockRun> {
    const run: BlockRun = { blocks: [], bytes: 0, corrupt: 0 };
    if (hashes.length === 0) return Promise.resolve(run);
    const call = this.client.get({ blockHashes: hashes, codec, leaseId: "" }, this.callOptions(opts));
    return new Promise<BlockRun>((resolve, reject) => {
      let incoming: Incoming | undefined;
      let done = false;
      let ended = false;
      let failure: unknown;
      let statusKnown = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (failure !== undefined) reject(callError(failure));
        else resolve(run);
      };
      const refuse = (): void => {
        run.corrupt += 1;
        failure = undefined;
        finish();
        call.cancel(); // the rest of the run is of no use without this block
      };
      // 'end' and the status both arrive; settle on whichever comes second so no data is lost.
      const maybeFinish = (): void => {
        if (ended && statusKnown) {
          if (incoming && failure === undefined) return refuse(); // the stream stopped inside a block
          finish();
        }
      };
      call.on("data", (msg: GetResponse) => {
        if (done) return;
        const part = msg.part;
        if (part?.$case === "header") {
          const i = run.blocks.length;
          const total = part.value.totalBytes;
          if (incoming || i >= hashes.length || !bytesEqual(part.value.blockHash, hashes[i]) || total < 1 || total > MAX_KV_BLOCK_BYTES)
            return refuse();
          incoming = { buf: Buffer.allocUnsafeSlow(total), filled: 0 };
        } else if (part?.$case === "chunk") {
          const chunk = part.value;
          if (!incoming || chunk.length > MAX_CHUNK_BYTES || incoming.filled + chunk.length > incoming.buf.length) return refuse();
          incoming.buf.set(chunk, incoming.filled);
          incoming.filled += chunk.length;
          if (incoming.filled === incoming.buf.length) {
            const block = incoming.buf;
            incoming = undefined;
            if (!verifyReceivedBlock(block, hashes[run.blocks.length], codec)) return refuse();
            run.blocks.push(block);
            run.bytes += block.length;
          }
        } else refuse();
      });
      call.on("error", (err: unknown) => {
        failure = err;
      });
      call.on("status", (s: { code: number }) => {
        statusKnown = true;
        if (s.code !== status.OK && failure === undefined)
          failure = new TransportError(transportCodeOf((status[s.code] as string | undefined) ?? "INTERNAL"), "grpc", "", "get failed");
        maybeFinish();
      });
      call.on("end", () => {
        ended = true;
        maybeFinish();
      });
    });
  }

  /** The channel belongs to the KvStoreClient; nothing to release here. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private callOptions(opts: PathCallOptions): Partial<CallOptions> {
    return { deadline: opts.deadline };
  }
}
