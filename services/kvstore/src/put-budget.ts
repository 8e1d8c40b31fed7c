// Bounds the bytes of puts being received at once, so many slow or idle uploads cannot exhaust
// the process's memory: a put beyond the budget is refused with RESOURCE_EXHAUSTED and a retry hint.

/** Bytes of puts a kvstore receives at once. */
const MAX_INFLIGHT_PUT_BYTES = 512 * 1024 * 1024;
/** Retry hint sent with a put refused for lack of budget. */
export const PUT_RETRY_AFTER_MS = 50;

/** A byte budget shared by concurrent puts. */
export class PutBudget {
  private inUse = 0;

  constructor(readonly limitBytes: number = MAX_INFLIGHT_PUT_BYTES) {}

  get inUseBytes(): number {
    return this.inUse;
  }

  /** Reserve `bytes`; false when that would exceed the limit. */
  tryAcquire(bytes: number): boolean {
    if (this.inUse + bytes > this.limitBytes) return false;
    this.inUse += bytes;
    return true;
  }

  release(bytes: number): void {
    this.inUse = Math.max(0, this.inUse - bytes);
  }
}
