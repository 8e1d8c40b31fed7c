// @kvtier/kv-transport: the kvstore's fast data paths. The frame format and its parser/writer
// (shared by the store's server and the clients), and the client side of the two fast paths:
// length-framed TCP, a co-located shared-memory arena, and the portable gRPC stream. The choice
// between paths lives in @kvtier/platform's KvStoreClient.
export type { DataPathName, BlockRun, OutgoingBlock, BlockPutResult, PathCallOptions, PutRunOptions, BlockPath } from "./block-path.js";
export { verifyReceivedBlock, verifiedRun } from "./block-verify.js";
export {
  FRAME_MAGIC, FRAME_VERSION, FRAME_HEADER_BYTES, MAX_FRAME_META_BYTES, MAX_FRAME_PAYLOAD_BYTES, MAX_RUN_BLOCKS, MAX_BLOCK_BYTES,
  FrameKind, FrameFlag, encodeFrameHeader, decodeFrameHeader, checkFrameCrc,
} from "./frame-format.js";
export type { FrameHeader } from "./frame-format.js";
export {
  encodePutRun, decodePutRun, encodeGetRun, decodeGetRun, encodeGetResult, decodeGetResult, encodePutResult, decodePutResult,
  encodeError, decodeError, encodeAttach, decodeAttach,
} from "./frame-messages.js";
export type { PutRunMeta, GetRunMeta, GetResultMeta, BlockPutOutcome, ErrorBody, AttachMeta, ArenaWindow, WireTierName } from "./frame-messages.js";
export { FrameReader, parseFramesReference, DIRECT_READ_MIN_BYTES } from "./frame-reader.js";
export type { ParsedFrame, PayloadSink } from "./frame-reader.js";
export { frameParts, writeFrame } from "./frame-writer.js";
export { MetaReader, MetaWriter } from "./meta-codec.js";
export { groupRun, splitBlocks } from "./run-split.js";
export { DataConnection, SCRATCH_READ_BYTES, CONNECT_TIMEOUT_MS } from "./data-connection.js";
export type { FastEndpoint } from "./data-connection.js";
export { ShmArena, probeSharedMemory, readAllAt, writeAllAt, ARENA_NAME_PATTERN, DEFAULT_SHM_SLOT_BYTES, DEFAULT_SHM_SLOTS } from "./shm-arena.js";
export type { ShmLocation, ArenaSlot } from "./shm-arena.js";
export { TcpBlockPath } from "./tcp-block-path.js";
export { ShmBlockPath, SHM_ATTACH_TIMEOUT_MS } from "./shm-block-path.js";
export type { ShmPathOptions } from "./shm-block-path.js";
export { TransportError, frameError, unavailable, transportCodeOf } from "./transport-error.js";
export type { TransportErrorCode } from "./transport-error.js";
export { GrpcBlockPath, GRPC_PUT_CONCURRENCY, MAX_CHUNK_BYTES } from "./grpc-block-path.js";
