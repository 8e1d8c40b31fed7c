// @kvtier/serving: request-level logic the router and the workers share (cached prefill, the
// KV hand-off, output text with stop strings). Pure: no transport of its own; it takes an engine
// and a BlockStore (libs/platform's KvStoreClient in the services).
export { StopMatcher, MAX_STOP_STRINGS, MAX_STOP_STRING_BYTES } from "./stop-matcher.js";
export { TextStream, END_TOKENS } from "./text-stream.js";
export type { TextStep } from "./text-stream.js";
export { cachedPrefill, openReserved, emptyTally } from "./cached-prefill.js";
export type { PrefillOutcome, TierTally } from "./cached-prefill.js";
export { writeHandoff, loadHandoff, putBlocks, tailHashOf } from "./kv-handoff.js";
export type { HandoffBlocks, HandoffLoad } from "./kv-handoff.js";
export {
  writeSelection, loadSelection, selectionKey, selectionToWire, selectionFromWire,
  MAX_SELECTION_META_BYTES,
} from "./selection-handoff.js";
export { hasPolicy, handsOffSparse, policyReusableBlocks } from "./plan-policy.js";
export type { SelectionWritten, SelectionLoad } from "./selection-handoff.js";
export { writeQuestPages, loadQuestPages, questPagesKey, questPagesFromWire, fetchesQuestPages, QuestPageFetcher } from "./quest-pages.js";
export type { QuestPagesWritten, QuestPagesLoad } from "./quest-pages.js";
export { residualWindowOf, windowBlockHashes, RESIDUAL_WINDOW_CODEC } from "./residual-window.js";
export type { ResidualWindow } from "./residual-window.js";
export { BlockChain } from "./block-chain.js";
export type { BlockStore, FetchedRun, BlockPutOutcome, BlockPutOptions, BlockCallOptions } from "./block-store.js";
export type { QuestPagesHandoff, SelectionHandoff } from "./handoff-wire.js";
