// The shapes of the hand-off's request-scoped objects as they travel in a KvReady notice (the wire
// messages kvtier.v1.QuestPages and kvtier.v1.SelectionHandoff have exactly these fields): the
// request logic reads and writes them without depending on the generated protobuf code.

/** Quest pages of a request (kvtier.v1.QuestPages). */
export interface QuestPagesHandoff {
  /** Canonical spec, e.g. "quest@25". */
  policy: string;
  promptTokens: number;
  /** 16-byte request-derived page key. */
  key: Uint8Array;
  /** float32 LE per (block, layer, kv head): head_dim channel minima, then maxima, of the rotated keys. */
  bounds: Uint8Array;
  /** Pages written under the key. */
  pageCount: number;
  /** Their total size. */
  pageBytes: number;
  /** Codec of the pages. */
  codec: string;
}

/** A compressed prompt's selection (kvtier.v1.SelectionHandoff). */
export interface SelectionHandoff {
  /** Canonical spec, e.g. "snapkv@25". */
  policy: string;
  /** Compression point: positions from here on are the request's own. */
  promptTokens: number;
  /** Kept entries per (layer, kv head), layer-major. */
  counts: number[];
  /** uint16 LE per kept entry, rows concatenated in the order of counts. */
  positions: Uint8Array;
  /** H2O only: float64 LE accumulated attention per kept entry; else empty. */
  scores: Uint8Array;
  /** 16-byte request-derived selection key. */
  key: Uint8Array;
  /** Sparse blocks written under the key. */
  blockCount: number;
  /** Their total size (what the decode worker fetches). */
  blockBytes: number;
  /** Codec of the sparse blocks. */
  codec: string;
}
