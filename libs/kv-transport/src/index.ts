// @kvtier/kv-transport: the kvstore's block data paths. The frame format and its parser/writer
// (shared by the store's server and the clients), and the client side of the three paths:
// length-framed TCP, a co-located shared-memory arena, and the portable gRPC stream. The choice
// between paths lives in @kvtier/platform's KvStoreClient.
export type { DataPathName, BlockRun, OutgoingBlock, BlockPutResult, PathCallOptions, PutRunOptions, BlockPath } from "./block-path.js";
export { FRAME_HEADER_BYTES, MAX_FRAME_PAYLOAD_BYTES, FrameKind, FrameFlag } from "./frame-format.js";
export type { FrameHeader } from "./frame-format.js";
export {
  encodePutRun,
  decodePutRun,
  encodeGetRun,
  decodeGetRun,
  encodeGetResult,
  encodePutResult,
  encodeError,
  decodeError,
  encodeAttach,
  decodeAttach,
} from "./frame-messages.js";
export type {
  PutRunMeta,
  GetRunMeta,
  GetResultMeta,
  BlockPutOutcome,
  ErrorBody,
  AttachMeta,
  ArenaWindow,
  WireTierName,
} from "./frame-messages.js";
export { FrameReader } from "./frame-reader.js";
export type { ParsedFrame, PayloadSink } from "./frame-reader.js";
export { frameParts, writeFrame } from "./frame-writer.js";
export { SCRATCH_READ_BYTES } from "./data-connection.js";
export type { FastEndpoint } from "./data-connection.js";
export { ShmArena, probeSharedMemory, readAllAt, writeAllAt, ARENA_NAME_PATTERN } from "./shm-arena.js";
export type { ShmLocation, ArenaSlot } from "./shm-arena.js";
export { TcpBlockPath } from "./tcp-block-path.js";
export { ShmBlockPath } from "./shm-block-path.js";
export type { ShmPathOptions } from "./shm-block-path.js";
export { TransportError, frameError, transportCodeOf } from "./transport-error.js";
export type { TransportErrorCode } from "./transport-error.js";
export { GrpcBlockPath, grpcStatusHints, MAX_CHUNK_BYTES } from "./grpc-block-path.js";
