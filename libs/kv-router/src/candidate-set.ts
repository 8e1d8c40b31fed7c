// Internal to the routing cost: the candidates of one choice, column by column in typed arrays
// (CandidateSet), and the load checks they and the weights share.
import { PrefixIndexError } from "./errors.js";

/** Throws `INVALID_ARGUMENT` naming `field` unless `value` is a finite number >= 0. */
export function assertNonNegative(value: number, field: string): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new PrefixIndexError("INVALID_ARGUMENT", field, `${field} must be a finite number >= 0, got ${value}`);
  }
}

/** Whether `value` is a finite number >= 0 (checked before a field name is built for the error). */
export const isNonNegative = (value: number): boolean => typeof value === "number" && value >= 0 && value < Infinity;

const LOAD_KEYS = ["queuedPrefillTokens", "activeDecodeBlocks", "capacityBlocks", "recentWorkTokens"] as const;

/** Throws naming `candidates[i].<field>` unless every load count is a finite number >= 0 (names built only on failure). */
function checkLoad(
  i: number,
  queuedPrefillTokens: number,
  activeDecodeBlocks: number,
  capacityBlocks: number,
  recentWorkTokens: number,
): void {
  if (
    isNonNegative(queuedPrefillTokens) &&
    isNonNegative(activeDecodeBlocks) &&
    isNonNegative(capacityBlocks) &&
    isNonNegative(recentWorkTokens)
  )
    return;
  const load = { queuedPrefillTokens, activeDecodeBlocks, capacityBlocks, recentWorkTokens };
  for (const k of LOAD_KEYS) assertNonNegative(load[k], `candidates[${i}].${k}`);
}

/**
 * The candidates of one choice, column by column in typed arrays that are reused from call to
 * call, so choosing among many workers allocates nothing per worker (a router places every
 * request over its whole pool). Fill it with {@link reset}, {@link add} and {@link mergeMatch},
 * then pick with chooseCandidate (routing-cost.ts). Worker ids must be distinct (chooseWorker
 * checks that; a router's workers come from a map keyed by id).
 */
export class CandidateSet {
  /** Candidates added since the last {@link reset}. */
  length = 0;
  /** Worker id per candidate. */
  readonly ids: string[] = [];
  /** 1 for a decode worker (admission needs free blocks), 0 for a prefill worker. */
  isDecode = new Uint8Array(0);
  queuedPrefillTokens = new Float64Array(0);
  activeDecodeBlocks = new Float64Array(0);
  capacityBlocks = new Float64Array(0);
  recentWorkTokens = new Float64Array(0);
  /** Leading blocks the candidate can load, per tier (nested, as {@link LocationMatch}). */
  device = new Float64Array(0);
  host = new Float64Array(0);
  ssd = new Float64Array(0);
  best = new Float64Array(0);
  /** Leading blocks of the best match that are a shared prefix ({@link LocationMatch.shared}). */
  shared = new Float64Array(0);
  /** Sum of `recentWorkTokens` over the candidates (the bounded-load terms' mean). */
  poolRecentWorkTokens = 0;

  /**
   * `namedChecks` true: every load check builds its field's name, as a plain check would (for A/B
   * figures only: PlacerOptions.plainForms).
   */
  constructor(private readonly namedChecks = false) {}

  /** Empties the set (keeps its storage). */
  reset(): void {
    this.length = 0;
    this.poolRecentWorkTokens = 0;
  }

  /**
   * Adds a candidate with no cached blocks; returns its index (pass it to {@link mergeMatch}).
   * @throws {PrefixIndexError} `INVALID_ARGUMENT` naming `candidates[i].<field>` unless every load
   * count is a finite number >= 0 (field names are built only on failure).
   */
  add(
    workerId: string,
    role: "prefill" | "decode",
    queuedPrefillTokens: number,
    activeDecodeBlocks: number,
    capacityBlocks: number,
    recentWorkTokens: number,
  ): number {
    const i = this.length;
    checkLoad(i, queuedPrefillTokens, activeDecodeBlocks, capacityBlocks, recentWorkTokens);
    if (i === this.isDecode.length) this.grow(Math.max(16, 2 * i));
    this.ids[i] = workerId;
    this.isDecode[i] = role === "decode" ? 1 : 0;
    this.capacityBlocks[i] = capacityBlocks;
    this.device[i] = 0;
    this.host[i] = 0;
    this.ssd[i] = 0;
    this.best[i] = 0;
    this.shared[i] = 0;
    this.length = i + 1;
    this.writeLoad(i, queuedPrefillTokens, activeDecodeBlocks, recentWorkTokens);
    return i;
  }

  /**
   * Starts another choice among the same candidates: their ids, roles and capacities stay, their
   * matches are cleared, and each one's load must be set again with {@link setLoad} (a router
   * keeps its workers' set between placements and refreshes only what changes).
   */
  again(): void {
    const n = this.length;
    this.poolRecentWorkTokens = 0;
    this.device.fill(0, 0, n);
    this.host.fill(0, 0, n);
    this.ssd.fill(0, 0, n);
    this.best.fill(0, 0, n);
    this.shared.fill(0, 0, n);
  }

  /**
   * Sets candidate `i`'s load after {@link again}, as {@link add} set it.
   * @throws {PrefixIndexError} as {@link add}.
   */
  setLoad(i: number, queuedPrefillTokens: number, activeDecodeBlocks: number, recentWorkTokens: number): void {
    // A/B (pnpm bench router, ab_load_checks_route_p50_ratio): route p50 x1.17-1.24 over naming every checked field
    if (this.namedChecks) {
      assertNonNegative(queuedPrefillTokens, `candidates[${i}].queuedPrefillTokens`);
      assertNonNegative(activeDecodeBlocks, `candidates[${i}].activeDecodeBlocks`);
      assertNonNegative(recentWorkTokens, `candidates[${i}].recentWorkTokens`);
    } else checkLoad(i, queuedPrefillTokens, activeDecodeBlocks, 0, recentWorkTokens);
    this.writeLoad(i, queuedPrefillTokens, activeDecodeBlocks, recentWorkTokens);
  }

  private writeLoad(i: number, queuedPrefillTokens: number, activeDecodeBlocks: number, recentWorkTokens: number): void {
    this.queuedPrefillTokens[i] = queuedPrefillTokens;
    this.activeDecodeBlocks[i] = activeDecodeBlocks;
    this.recentWorkTokens[i] = recentWorkTokens;
    this.poolRecentWorkTokens += recentWorkTokens;
  }

  /**
   * Raises what candidate `i` can load to at least these leading blocks per tier (nested, as
   * {@link LocationMatch}, with its shared part): a worker that can load from two locations (its
   * own pool, its node's kvstore) gets the larger run of each, as {@link mergeMatches}.
   */
  mergeMatch(i: number, device: number, host: number, ssd: number, best: number, shared: number): void {
    this.device[i] = Math.max(this.device[i], device);
    this.host[i] = Math.max(this.host[i], host);
    this.ssd[i] = Math.max(this.ssd[i], ssd);
    this.best[i] = Math.max(this.best[i], best);
    this.shared[i] = Math.max(this.shared[i], shared);
  }

  /** The largest `best` match among the candidates (0 when empty). */
  bestMatch(): number {
    let most = 0;
    for (let i = 0; i < this.length; i++) most = Math.max(most, this.best[i]);
    return most;
  }

  private grow(n: number): void {
    const f64 = (a: Float64Array): Float64Array<ArrayBuffer> => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const decode = new Uint8Array(n);
    decode.set(this.isDecode);
    this.isDecode = decode;
    this.queuedPrefillTokens = f64(this.queuedPrefillTokens);
    this.activeDecodeBlocks = f64(this.activeDecodeBlocks);
    this.capacityBlocks = f64(this.capacityBlocks);
    this.recentWorkTokens = f64(this.recentWorkTokens);
    this.device = f64(this.device);
    this.host = f64(this.host);
    this.ssd = f64(this.ssd);
    this.best = f64(this.best);
    this.shared = f64(this.shared);
  }
}
