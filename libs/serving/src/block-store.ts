// What the request logic needs of a KV block store: the calls the hand-off, cached prefill and
// request-scoped objects make. The services pass libs/platform's KvStoreClient (it has these
// methods); the logic never sees a transport.

/** The leading run of blocks a store returned, every one verified. */
export interface FetchedRun {
  blocks: Uint8Array[];
  bytes: number;
  corrupt: number;
}

/** What a put did to one block: `error` set when the store refused it. */
export interface BlockPutOutcome {
  created: boolean;
  error?: Error;
}

/** Options of a call. */
export interface BlockCallOptions {
  /** Deadline of this call, in milliseconds. @default the store's own */
  deadlineMs?: number;
}

/** Options of a put. */
export interface BlockPutOptions {
  /** The blocks are a request's own objects (served, never announced). @default false */
  requestScoped?: boolean;
}

/** A KV block store, as the request logic uses it. */
export interface BlockStore {
  /** The leading run of `hashes` (one chain) the store holds in `codec`, each block verified. */
  getRun(hashes: Uint8Array[], codec: string, opts?: BlockCallOptions): Promise<FetchedRun>;
  /** Store a run of encoded blocks; one outcome per block. */
  putRun(blocks: Uint8Array[], opts?: BlockPutOptions): Promise<BlockPutOutcome[]>;
  /** How many leading blocks of `hashes` the store holds in `codec`. */
  lookup(hashes: Uint8Array[], codec: string): Promise<number>;
  /** Drop blocks; resolves to how many it held. */
  delete(hashes: Uint8Array[], codec: string): Promise<number>;
}
