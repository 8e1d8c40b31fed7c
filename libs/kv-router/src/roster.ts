// The workers placement chooses among, as kv-router reads them: an id, a role, the node's kvstore
// whose blocks the worker can load, a pool size, and the worker's own latest load report. A
// service passes its own worker records (they have these fields); the replay passes simulated ones.

/** What placement reads of one worker (a service's record has at least these fields). */
export interface RosterWorker {
  readonly info: {
    readonly workerId: string;
    /** "decode" or "prefill"; a worker of another role is never a candidate. */
    readonly role: string;
    /** The kvstore on the worker's node ("" when none): its blocks count for the worker too. */
    readonly kvstoreId: string;
    /** KV pool size, in blocks. */
    readonly capacityBlocks: number;
  };
  /** The worker's own latest load report, if any (it lags behind the routers' own accounting). */
  readonly load: { readonly queuedPrefillTokens: number; readonly activeDecodeBlocks: number } | undefined;
}

/**
 * The workers, and where each location's match lands: a worker's own pool id and its node's
 * kvstore id, each to the positions of the workers it serves. Build one per change of the worker
 * set, so a placement looks up each matched location once instead of two locations per worker;
 * a worker's `load` may change in place meanwhile.
 */
export class Roster<W extends RosterWorker = RosterWorker> {
  /** Per location id (worker or kvstore), the positions in `workers` of the workers it serves. */
  readonly servedBy = new Map<string, number[]>();
  /** Per worker id, its position in `workers`. */
  readonly positionOf = new Map<string, number>();

  constructor(readonly workers: readonly W[]) {
    workers.forEach((w, pos) => {
      this.positionOf.set(w.info.workerId, pos);
      for (const loc of w.info.kvstoreId === w.info.workerId ? [w.info.workerId] : [w.info.workerId, w.info.kvstoreId]) {
        if (loc === "") continue;
        const list = this.servedBy.get(loc);
        if (list === undefined) this.servedBy.set(loc, [pos]);
        else list.push(pos);
      }
    });
  }
}
