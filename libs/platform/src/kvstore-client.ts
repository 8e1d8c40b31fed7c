// Client of one kvstore. The control plane (lookup, delete, info) is gRPC; block bytes take the
// fastest data path the store announces and this process can reach (kvstore-client-paths.ts):
// co-located shared memory, the TCP fast port, or the portable gRPC stream. Whatever the path,
// every block received is verified (structure, CRC-32, requested hash and codec) before it is
// handed out, and a corrupt block is never returned; it ends the run and is counted.
import { Metadata, type CallOptions, type ServiceError } from "@grpc/grpc-js";
import {
  GrpcBlockPath,
  TransportError,
  grpcStatusHints,
  type BlockPath,
  type BlockRun,
  type DataPathName,
  type OutgoingBlock,
  type ShmPathOptions,
} from "@kvtier/kv-transport";
import { KvStoreServiceClient, type DataPlane, type DeleteResponse, type InfoResponse, type LookupResponse } from "@kvtier/proto";
import { KvBlockError, readKvBlockHeader } from "@kvtier/tensor";
import { KvtierError, codeNameOf, isGrpcError, messageOf } from "./errors.js";
import { insecureCredentials, internalClientOptions } from "./grpc.js";
import { selectBlockPath } from "./kvstore-client-paths.js";
import type { ServiceToken } from "./service-token.js";

/** Deadline of every call unless the caller gives one. */
const DEFAULT_KVSTORE_DEADLINE_MS = 30_000;
/** Data paths tried, fastest first. */
const DEFAULT_DATA_PATHS: readonly DataPathName[] = ["shm", "tcp", "grpc"];
/** After the store could not be asked which paths it offers, wait this long before asking again. */
const RESELECT_AFTER_MS = 1_000;

/** Options of a {@link KvStoreClient}. */
export interface KvStoreClientOptions {
  /** The deployment's service credential, presented on every call and data connection (required: the store serves no one else). */
  serviceToken: ServiceToken;
  /** Deadline of each call, in milliseconds. @default DEFAULT_KVSTORE_DEADLINE_MS (30 s) */
  deadlineMs?: number;
  /**
   * This process's KVTIER_NODE_ID; when given, shared memory is used only with a store of the same node. @default undefined (the probe file
   * decides)
   */
  nodeId?: string;
  /** Data paths allowed, fastest first. @default DEFAULT_DATA_PATHS (shm, tcp, grpc) */
  dataPaths?: readonly DataPathName[];
  /**
   * host:port of the store's fast port as reachable from here, when not the announced one (a proxy, NAT). @default the announced endpoint
   */
  fastEndpoint?: string;
  /** Arena shape of the shared-memory path. @default 4 slots of 64 MiB (sparse) */
  shm?: ShmPathOptions;
  /** Told when a faster path is not used, and why. @default ignored */
  onFallback?: (path: DataPathName, reason: string) => void;
}

/** Per-call options. */
export interface KvStoreCallOptions {
  /** Deadline of this call, in milliseconds. @default the client's deadlineMs */
  deadlineMs?: number;
}

/** Options of {@link KvStoreClient.put} and {@link KvStoreClient.putRun}. */
export interface KvStorePutOptions extends KvStoreCallOptions {
  /** `memory`: acknowledged once in the host tier; `durable`: once fsynced on SSD. @default "memory" */
  ack?: "memory" | "durable";
  /**
   * The blocks are a request's own objects (sparse selection blocks, Quest pages, a KIVI window):
   * the store serves them but never announces them, so no router indexes them. Memory only.
   * @default false
   */
  requestScoped?: boolean;
}

/** The leading run of blocks a store returned, every one verified. */
export type KvBlockRun = BlockRun;

/** What a put did to one block of a run: `error` set when it was refused. */
export interface KvBlockPutResult {
  created: boolean;
  error?: KvtierError;
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

/** Counters of what this client moved, per data path. */
export interface KvStoreClientStats {
  /** Path of the most recent data call ("grpc" before any). */
  path: DataPathName;
  bytesSent: Record<DataPathName, number>;
  bytesReceived: Record<DataPathName, number>;
  /** Blocks refused on receipt (checksum, structure, hash or codec). */
  corruptBlocks: number;
}

/** A KvtierError for a failed control-plane call; keeps the status code, the field and the retry hint the store sent. */
function callError(err: unknown, endpoint: string, op: string): KvtierError {
  if (err instanceof KvtierError) return err;
  if (!isGrpcError(err)) return new KvtierError("INTERNAL", `kvstore ${endpoint} ${op}: ${messageOf(err)}`, { cause: err });
  return new KvtierError(codeNameOf(err.code), `kvstore ${endpoint} ${op}: ${err.details ?? err.message}`, {
    ...grpcStatusHints(err),
    cause: err,
  });
}

/** A KvtierError for anything a data path threw. */
function dataError(err: unknown, endpoint: string, op: string): KvtierError {
  if (err instanceof TransportError) {
    return new KvtierError(err.code, `kvstore ${endpoint} ${op}: ${err.message}`, {
      field: err.field || undefined,
      retryAfterMs: err.retryAfterMs,
      cause: err,
    });
  }
  return callError(err, endpoint, op);
}

/** A broken connection (as opposed to a refusal): worth one more try over gRPC. */
const connectionLost = (err: unknown): boolean => err instanceof TransportError && (err.code === "UNAVAILABLE" || err.code === "CANCELLED");

/** Client of one kvstore. Owns its channel and data path; {@link close} is idempotent. */
export class KvStoreClient {
  private readonly client: KvStoreServiceClient;
  private readonly grpc: GrpcBlockPath;
  private readonly deadlineMs: number;
  private current: BlockPath | undefined;
  private choosing: Promise<BlockPath> | undefined;
  private closing: Promise<void> | undefined;
  private readonly counters: KvStoreClientStats = {
    path: "grpc",
    bytesSent: { grpc: 0, tcp: 0, shm: 0 },
    bytesReceived: { grpc: 0, tcp: 0, shm: 0 },
    corruptBlocks: 0,
  };

  constructor(
    readonly endpoint: string,
    private readonly opts: KvStoreClientOptions,
  ) {
    this.client = new KvStoreServiceClient(endpoint, insecureCredentials(), internalClientOptions(opts.serviceToken));
    this.grpc = new GrpcBlockPath(this.client);
    this.deadlineMs = opts.deadlineMs ?? DEFAULT_KVSTORE_DEADLINE_MS;
  }

  /**
   * Store one encoded block under (its header's hash, its codec). `created` is false when the
   * store already held these exact bytes. Throws KvtierError: INVALID_ARGUMENT (field "block")
   * when the block's header does not parse, else the store's refusal (INVALID_ARGUMENT naming
   * the field, ALREADY_EXISTS, RESOURCE_EXHAUSTED, ...).
   */
  async put(block: Uint8Array, opts: KvStorePutOptions = {}): Promise<{ created: boolean }> {
    const [r] = await this.putRun([block], opts);
    if (r.error) throw r.error;
    return { created: r.created };
  }

  /**
   * Store a run of blocks (normally consecutive blocks of one chain, parents first) in as few
   * requests as the path allows. One result per block, in order; a refused block does not stop
   * the others. Rejects only when the store cannot be reached at all.
   */
  async putRun(blocks: Uint8Array[], opts: KvStorePutOptions = {}): Promise<KvBlockPutResult[]> {
    this.assertOpen();
    const results: KvBlockPutResult[] = new Array<KvBlockPutResult>(blocks.length);
    const outgoing: { index: number; block: OutgoingBlock }[] = [];
    blocks.forEach((bytes, index) => {
      try {
        const h = readKvBlockHeader(bytes);
        outgoing.push({ index, block: { bytes, hash: h.blockHash, codec: h.codec } });
      } catch (err) {
        if (!(err instanceof KvBlockError)) throw err;
        results[index] = {
          created: false,
          error: new KvtierError("INVALID_ARGUMENT", `block: ${err.message}`, { field: "block", cause: err }),
        };
      }
    });
    // One request group per stretch of blocks sharing a codec.
    for (let a = 0; a < outgoing.length;) {
      let b = a + 1;
      while (b < outgoing.length && outgoing[b].block.codec === outgoing[a].block.codec) b++;
      const part = outgoing.slice(a, b);
      const got = await this.onPath("put", (p) =>
        p.putRun(
          part.map((o) => o.block),
          opts.ack ?? "memory",
          { deadline: this.deadline(opts), requestScoped: opts.requestScoped === true },
        ),
      );
      got.value.forEach((r, i) => {
        results[part[i].index] = r.error ? { created: false, error: dataError(r.error, this.endpoint, "put") } : { created: r.created };
        if (!r.error) this.counters.bytesSent[got.path] += part[i].block.bytes.length;
      });
      a = b;
    }
    return results;
  }

  /**
   * The leading run of `hashes` (one chain, in order) the store holds in `codec`. Each block is
   * verified on receipt and must carry the hash requested at its position; the first that does
   * not ends the run, is counted in `corrupt` and is not returned.
   * Throws KvtierError with the call's status when the call itself fails.
   */
  async getRun(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<KvBlockRun> {
    this.assertOpen();
    if (hashes.length === 0) return { blocks: [], bytes: 0, corrupt: 0 };
    const got = await this.onPath("get", (p) => p.getRun(hashes, codec, { deadline: this.deadline(opts) }));
    this.counters.bytesReceived[got.path] += got.value.bytes;
    this.counters.corruptBlocks += got.value.corrupt;
    return got.value;
  }

  /** How many leading blocks of `hashes` the store holds in `codec`. */
  async lookup(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<number> {
    this.assertOpen();
    const res = await this.unary<LookupResponse>("lookup", (cb) =>
      this.client.lookup({ blockHashes: hashes, codec }, new Metadata(), this.callOptions(opts), cb),
    );
    return res.leadingBlocks;
  }

  /** Drop blocks from the store; resolves to how many it held. */
  async delete(hashes: Uint8Array[], codec: string, opts: KvStoreCallOptions = {}): Promise<number> {
    this.assertOpen();
    const res = await this.unary<DeleteResponse>("delete", (cb) =>
      this.client.delete({ blockHashes: hashes, codec }, new Metadata(), this.callOptions(opts), cb),
    );
    return res.deleted;
  }

  /** The store's id, incarnation and occupancy. */
  async info(opts: KvStoreCallOptions = {}): Promise<KvStoreInfo> {
    const res = await this.infoResponse(opts);
    return {
      storeId: res.storeId,
      incarnation: res.incarnation,
      capacityBytes: res.capacityBytes,
      usedBytes: res.usedBytes,
      blocks: res.blocks,
    };
  }

  /** The data path block bytes take now (chosen on first use; "grpc" when nothing faster is reachable). */
  async dataPath(): Promise<DataPathName> {
    this.assertOpen();
    return (await this.path()).name;
  }

  /** What this client moved so far, per path. */
  stats(): KvStoreClientStats {
    return { ...this.counters, bytesSent: { ...this.counters.bytesSent }, bytesReceived: { ...this.counters.bytesReceived } };
  }

  /** Close the channel and the data path (its shared-memory arena is removed); calls in flight are cancelled. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const pending = this.choosing;
      this.client.close();
      const path = this.current ?? (await pending?.catch(() => undefined));
      await path?.close();
    })();
    return this.closing;
  }

  /** Run `op` on the current path; a fast path whose connection broke is dropped and `op` retried over gRPC. */
  private async onPath<T>(what: string, op: (p: BlockPath) => Promise<T>): Promise<{ value: T; path: DataPathName }> {
    const p = await this.path();
    this.counters.path = p.name;
    try {
      return { value: await op(p), path: p.name };
    } catch (err) {
      if (p.name === "grpc" || !connectionLost(err)) throw dataError(err, this.endpoint, what);
      this.opts.onFallback?.(p.name, `connection lost during ${what}: ${(err as Error).message}`);
      this.drop(p);
      this.counters.path = "grpc";
      try {
        return { value: await op(this.grpc), path: "grpc" };
      } catch (e) {
        throw dataError(e, this.endpoint, what);
      }
    }
  }

  private drop(p: BlockPath): void {
    if (this.current === p) this.current = undefined;
    this.choosing = undefined;
    void p.close();
  }

  private path(): Promise<BlockPath> {
    if (this.current?.usable) return Promise.resolve(this.current);
    if (this.current) this.drop(this.current);
    this.choosing ??= this.choose();
    return this.choosing;
  }

  private async choose(): Promise<BlockPath> {
    let announced: DataPlane | undefined;
    try {
      announced = (await this.infoResponse({})).dataPlane;
    } catch {
      setTimeout(() => (this.choosing = undefined), RESELECT_AFTER_MS).unref();
      return this.grpc;
    }
    const p = await selectBlockPath(announced, {
      endpoint: this.endpoint,
      nodeId: this.opts.nodeId,
      fastEndpoint: this.opts.fastEndpoint,
      paths: this.opts.dataPaths ?? DEFAULT_DATA_PATHS,
      shm: this.opts.shm ?? {},
      credential: this.opts.serviceToken.bytes(),
      grpc: this.grpc,
      onFallback: this.opts.onFallback,
    });
    if (this.closing) {
      await p.close();
      return this.grpc;
    }
    this.current = p;
    return p;
  }

  private infoResponse(opts: KvStoreCallOptions): Promise<InfoResponse> {
    this.assertOpen();
    return this.unary<InfoResponse>("info", (cb) => this.client.info({}, new Metadata(), this.callOptions(opts), cb));
  }

  private deadline(opts: KvStoreCallOptions): number {
    return Date.now() + (opts.deadlineMs ?? this.deadlineMs);
  }

  private callOptions(opts: KvStoreCallOptions): Partial<CallOptions> {
    return { deadline: this.deadline(opts) };
  }

  private unary<Res>(op: string, start: (cb: (err: ServiceError | null, res: Res) => void) => void): Promise<Res> {
    return new Promise((resolve, reject) => start((err, res) => (err ? reject(callError(err, this.endpoint, op)) : resolve(res))));
  }

  private assertOpen(): void {
    if (this.closing) throw new KvtierError("FAILED_PRECONDITION", `kvstore client for ${this.endpoint} is closed`);
  }
}
