// Client of a kvstore's KvStoreService over its portable gRPC data path. Every block received is
// verified here (structure, CRC-32, requested hash and codec) before it is handed out: this is the
// checksum check on the network receive path (DESIGN.md section 4). A corrupt block is never
// returned; it ends the run and is counted.
import { Metadata, status, type CallOptions, type ClientWritableStream, type ServiceError } from "@grpc/grpc-js";
import { AckLevel, KvStoreServiceClient, type DeleteResponse, type GetResponse, type InfoResponse, type LookupResponse, type PutRequest } from "@kvtier/proto";
import { KvBlockError, MAX_KV_BLOCK_BYTES, readKvBlockHeader, verifyKvBlock, type KvBlockHeader } from "@kvtier/tensor";
import { KvtierError, codeNameOf, isGrpcError, messageOf } from "./errors.js";
import { GRPC_OPTIONS, MAX_CHUNK_BYTES, insecureCredentials } from "./grpc.js";

/** Deadline of every call unless the caller gives one. */
export const DEFAULT_KVSTORE_DEADLINE_MS = 30_000;

/** Options of a {@link KvStoreClient}. */
export interface KvStoreClientOptions {
  /** Deadline of each call, in milliseconds. @default DEFAULT_KVSTORE_DEADLINE_MS (30 s) */
  deadlineMs?: number;
}

/** Per-call options. */
export interface KvStoreCallOptions {
  /** Deadline of this call, in milliseconds. @default the client's deadlineMs */
  deadlineMs?: number;
}

/** Options of {@link KvStoreClient.put}. */
export interface KvStorePutOptions extends KvStoreCallOptions {
  /** `memory`: acknowledged once in the host tier; `durable`: once fsynced on SSD. @default "memory" */
  ack?: "memory" | "durable";
}

/** The leading run of blocks a store returned, every one verified. */
export interface KvBlockRun {
  /** Encoded blocks, in the order requested. */
  blocks: Uint8Array[];
  /** Sum of the blocks' sizes. */
  bytes: number;
  /** Blocks received but refused (bad checksum, structure, hash or codec, cut short): 0 or 1, as one ends the run. */
  corrupt: number;
}

/** A store's identity and occupancy. */
export interface KvStoreInfo {
  storeId: string;
  /** New at every start of the store. */
  incarnation: string;
  capacityBytes: number;
  usedBytes: number;
  blocks: number;
}

/** A block being reassembled from Get chunks. */
interface Incoming {
  buf: Uint8Array;
  filled: number;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

/** A KvtierError for a failed call; keeps the status code, the field and the retry hint the store sent. */
function callError(err: unknown, endpoint: string, op: string): KvtierError {
  if (err instanceof KvtierError) return err;
  if (!isGrpcError(err)) return new KvtierError("INTERNAL", `kvstore ${endpoint} ${op}: ${messageOf(err)}`, { cause: err });
  const md = (err as Partial<ServiceError>).metadata;
  const first = (key: string): string | undefined => (md instanceof Metadata ? md.get(key)[0]?.toString() : undefined);
  const retry = first("retry-after-ms");
  return new KvtierError(codeNameOf(err.code), `kvstore ${endpoint} ${op}: ${err.details ?? err.message}`, {
    field: first("kvtier-field"),
    retryAfterMs: retry === undefined ? undefined : Number(retry),
    cause: err,
  });
}

/** Client of one kvstore. Owns its channel; {@link close} is idempotent. */
export class KvStoreClient {
  private readonly client: KvStoreServiceClient;
  private readonly deadlineMs: number;
  private closed = false;

  constructor(
    readonly endpoint: string,
    opts: KvStoreClientOptions = {},
  ) {
    this.client = new KvStoreServiceClient(endpoint, insecureCredentials(), GRPC_OPTIONS);
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_KVSTORE_DEADLINE_MS;
  }

  /**
   * Store one encoded block under (its header's hash, its codec), streamed in chunks of at most
   * MAX_CHUNK_BYTES. `created` is false when the store already held these exact bytes.
   * Throws KvtierError: INVALID_ARGUMENT (field "block") when the block's header does not parse,
   * else the store's status (INVALID_ARGUMENT naming the field, ALREADY_EXISTS, RESOURCE_EXHAUSTED, ...).
   */
  async put(block: Uint8Array, opts: KvStorePutOptions = {}): Promise<{ created: boolean }> {
    this.assertOpen();
    let header: KvBlockHeader;
    try {
      header = readKvBlockHeader(block);
    } catch (err) {
      if (err instanceof KvBlockError) throw new KvtierError("INVALID_ARGUMENT", `block: ${err.message}`, { field: "block", cause: err });
      throw err;
    }
    const ack = opts.ack === "durable" ? AckLevel.ACK_LEVEL_DURABLE : AckLevel.ACK_LEVEL_MEMORY;
    let answered = false;
    let call!: ClientWritableStream<PutRequest>;
    const answer = new Promise<{ created: boolean }>((resolve, reject) => {
      call = this.client.put(this.callOptions(opts), (err, res) => {
        answered = true;
        if (err) reject(callError(err, this.endpoint, "put"));
        else resolve({ created: res.created });
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
    if (await send({ part: { $case: "header", value: { blockHash: header.blockHash, codec: header.codec, totalBytes: block.length, ack } } })) {
      for (let at = 0; at < block.length; at += MAX_CHUNK_BYTES) {
        if (!(await send({ part: { $case: "chunk", value: block.subarray(at, at + MAX_CHUNK_BYTES) } }))) break;
      }
    }
    if (!answered) call.end();
    return answer;
  }

  /**
   * The leading run of `hashes` (one chain, in order) the store holds in `codec`. Each block is
   * reassembled and verified on receipt and must carry the hash requested at its position; the
   * first that does not ends the run, is counted in `corrupt` and is not returned.
   * Throws KvtierError with the call's status when the call itself fails.
   */
  async getRun(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<KvBlockRun> {
    this.assertOpen();
    const run: KvBlockRun = { blocks: [], bytes: 0, corrupt: 0 };
    if (hashes.length === 0) return run;
    const call = this.client.get({ blockHashes: hashes, codec, leaseId: "" }, this.callOptions(opts));
    return new Promise<KvBlockRun>((resolve, reject) => {
      let incoming: Incoming | undefined;
      let done = false;
      let ended = false;
      let failure: unknown;
      let statusKnown = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        if (failure !== undefined) reject(callError(failure, this.endpoint, "get"));
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
          if (incoming || i >= hashes.length || !bytesEqual(part.value.blockHash, hashes[i]) || total < 1 || total > MAX_KV_BLOCK_BYTES) return refuse();
          incoming = { buf: Buffer.allocUnsafeSlow(total), filled: 0 };
        } else if (part?.$case === "chunk") {
          const chunk = part.value;
          if (!incoming || chunk.length > MAX_CHUNK_BYTES || incoming.filled + chunk.length > incoming.buf.length) return refuse();
          incoming.buf.set(chunk, incoming.filled);
          incoming.filled += chunk.length;
          if (incoming.filled === incoming.buf.length) {
            const block = incoming.buf;
            incoming = undefined;
            if (!this.verified(block, hashes[run.blocks.length], codec)) return refuse();
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
        if (s.code !== status.OK && failure === undefined) failure = new KvtierError(codeNameOf(s.code), "get failed");
        maybeFinish();
      });
      call.on("end", () => {
        ended = true;
        maybeFinish();
      });
    });
  }

  /** How many leading blocks of `hashes` the store holds in `codec`. */
  async lookup(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<number> {
    this.assertOpen();
    const res = await this.unary<LookupResponse>("lookup", (cb) => this.client.lookup({ blockHashes: hashes, codec }, new Metadata(), this.callOptions(opts), cb));
    return res.leadingBlocks;
  }

  /** Drop blocks from the store; resolves to how many it held. */
  async delete(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<number> {
    this.assertOpen();
    const res = await this.unary<DeleteResponse>("delete", (cb) => this.client.delete({ blockHashes: hashes, codec }, new Metadata(), this.callOptions(opts), cb));
    return res.deleted;
  }

  /** The store's id, incarnation and occupancy. */
  async info(opts: KvStoreCallOptions = {}): Promise<KvStoreInfo> {
    this.assertOpen();
    const res = await this.unary<InfoResponse>("info", (cb) => this.client.info({}, new Metadata(), this.callOptions(opts), cb));
    return { storeId: res.storeId, incarnation: res.incarnation, capacityBytes: res.capacityBytes, usedBytes: res.usedBytes, blocks: res.blocks };
  }

  /** Close the channel; calls in flight are cancelled. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  /** True when `block` verifies and carries `hash` and `codec`. */
  private verified(block: Uint8Array, hash: Uint8Array, codec: string): boolean {
    try {
      const h = verifyKvBlock(block);
      return bytesEqual(h.blockHash, hash) && h.codec === codec;
    } catch (err) {
      if (err instanceof KvBlockError) return false;
      throw err;
    }
  }

  private callOptions(opts: KvStoreCallOptions): Partial<CallOptions> {
    return { deadline: Date.now() + (opts.deadlineMs ?? this.deadlineMs) };
  }

  private unary<Res>(op: string, start: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> {
    return new Promise((resolve, reject) => start((err, res) => (err ? reject(callError(err, this.endpoint, op)) : resolve(res))));
  }

  private assertOpen(): void {
    if (this.closed) throw new KvtierError("FAILED_PRECONDITION", `kvstore client for ${this.endpoint} is closed`);
  }
}
