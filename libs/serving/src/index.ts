// @kvtier/serving: request-level logic the router and the workers share (cached prefill, the
// KV hand-off, output text with stop strings). Pure: no transport of its own; it takes an engine
// and a BlockStore (libs/platform's KvStoreClient in the services).
export { MAX_STOP_STRINGS, MAX_STOP_STRING_BYTES } from "./stop-matcher.js";
export { TextStream } from "./text-stream.js";
export type { TextStep } from "./text-stream.js";
export { cachedPrefill, openReserved, emptyTally } from "./cached-prefill.js";
export type { PrefillOutcome, TierTally } from "./cached-prefill.js";
export { writeHandoff, loadHandoff, putBlocks, tailHashOf } from "./kv-handoff.js";
export type { HandoffBlocks, HandoffLoad, WriteHandoffOptions } from "./kv-handoff.js";
export { writeSelection, loadSelection } from "./selection-handoff.js";
export { hasPolicy } from "./plan-policy.js";
export type { SelectionWritten, SelectionLoad } from "./selection-handoff.js";
export { writeQuestPages, loadQuestPages, QuestPageFetcher } from "./quest-pages.js";
export type { QuestPagesWritten, QuestPagesLoad } from "./quest-pages.js";
export { BlockChain } from "./block-chain.js";
export type { BlockStore, FetchedRun, BlockPutOutcome, BlockPutOptions, BlockCallOptions } from "./block-store.js";
export type { QuestPagesHandoff, SelectionHandoff } from "./handoff-wire.js";
