// What the selection state, attention and the engine see of a Quest sequence's pages fetched on
// demand: a page's address and the cache that says which pages are resident and fetches the rest.
// The cache itself (QuestPageTable, quest-pages.ts) writes into the pool; this module knows no
// pool, so a sequence's page table can carry its selection without a circle back to the pool.

/** One page: a KV head's keys and values of one layer in one full prompt block. */
export interface QuestPageRef {
  block: number;
  layer: number;
  head: number;
}

/** A Quest sequence's on-demand pages, as attention reads them (implemented by QuestPageTable). */
export interface QuestPageCache {
  /** Pages fetched so far. */
  readonly fetchedPages: number;
  /** Why a fetch failed, or null. */
  readonly broken: string | null;
  /** Whether page (block, layer, head) is in the pool. */
  has(block: number, layer: number, head: number): boolean;
  /** Fetch the pages of `refs` not yet resident; false if that failed (the cache is then broken). */
  ensure(refs: QuestPageRef[]): boolean;
}
