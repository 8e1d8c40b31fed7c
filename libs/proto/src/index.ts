// @kvtier/proto: the generated wire types (from proto/, via `pnpm gen`) and grpc-js service
// definitions. Services parse these into domain types at their boundary.
export { Tier, TierCounts, SamplingParams, SamplerState, TokenLogprob, PositionLogprobs, KvLayout } from "./generated/kvtier/v1/common.js";
export {
  GenerateRequest,
  GenerateResponse,
  Started,
  Tokens,
  Finished,
  Usage,
  TokenizeRequest,
  TokenizeResponse,
  KvTierServiceService,
  KvTierServiceClient,
} from "./generated/kvtier/v1/router.js";
export type { KvTierServiceServer } from "./generated/kvtier/v1/router.js";
export {
  AckLevel,
  PutHeader,
  PutRequest,
  PutResponse,
  GetRequest,
  GetHeader,
  GetResponse,
  LookupRequest,
  LookupResponse,
  DeleteRequest,
  DeleteResponse,
  InfoRequest,
  InfoResponse,
  DataPlane,
  ReleaseRequest,
  ReleaseResponse,
  KvStoreServiceService,
  KvStoreServiceClient,
} from "./generated/kvtier/v1/kvstore.js";
export type { KvStoreServiceServer } from "./generated/kvtier/v1/kvstore.js";
export {
  RequestPlan,
  DecodeRequest,
  DecodeResponse,
  Admitted,
  TokenEvent,
  DecodeFinished,
  PrefillJob,
  KvReady,
  KvReadyAck,
  CancelRequest,
  WorkerInfo,
  LoadReport,
  SelectionHandoff,
  QuestPages,
  DecodeWorkerServiceService,
  DecodeWorkerServiceClient,
} from "./generated/kvtier/v1/worker.js";
export type { DecodeWorkerServiceServer } from "./generated/kvtier/v1/worker.js";
export { BlockStored, BlockRemoved, AllBlocksCleared, KvEvent, KvEventBatch, SnapshotRequest } from "./generated/kvtier/v1/events.js";
export { RouterLoadShare, WorkerLoadShare, SessionPlacement } from "./generated/kvtier/v1/router_peers.js";
