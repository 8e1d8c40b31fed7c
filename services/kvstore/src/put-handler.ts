// gRPC Put (client-streaming): a PutHeader, then chunks. Refuses as early as it can (header
// checks before any byte arrives), verifies the whole block on receipt, and counts every refusal.
import type { handleClientStreamingCall, ServerReadableStream, sendUnaryData } from "@grpc/grpc-js";
import { KvtierError } from "@kvtier/platform";
import type { PutHeader, PutRequest, PutResponse } from "@kvtier/proto";
import { refusalReasonOf, statusOf } from "./grpc-status.js";
import { PutAssembler } from "./put-assembler.js";
import { PUT_RETRY_AFTER_MS } from "./put-budget.js";
import { PutRefusedError, refusePut } from "./put-refusal.js";
import type { ServiceDeps } from "./service-deps.js";
import { parsePutHeader } from "./wire-requests.js";
import { tierToWire } from "./wire-tier.js";

/** The Put handler over `deps`. */
export function putHandler(deps: ServiceDeps): handleClientStreamingCall<PutRequest, PutResponse> {
  return (call, callback) => new PutCall(deps, call, callback).start();
}

/** One Put call's state: at most one answer, and its budget released exactly once. */
class PutCall {
  private assembler: PutAssembler | undefined;
  private reservedBytes = 0;
  private settled = false;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly call: ServerReadableStream<PutRequest, PutResponse>,
    private readonly callback: sendUnaryData<PutResponse>,
  ) {}

  start(): void {
    this.call.on("data", (req: PutRequest) => this.onMessage(req));
    this.call.on("end", () => this.onEnd());
    this.call.on("error", (err: unknown) => this.fail(err));
    this.call.on("cancelled", () => this.fail(new KvtierError("CANCELLED", "the client cancelled the put")));
  }

  private onMessage(req: PutRequest): void {
    if (this.settled) return;
    try {
      const part = req.part;
      if (part?.$case === "header") this.onHeader(part.value);
      else if (part?.$case === "chunk") {
        if (!this.assembler) throw refusePut("protocol", "header", "the first message must be a PutHeader");
        this.assembler.append(part.value);
      } else throw refusePut("protocol", "part", "a message must hold a header or a chunk");
    } catch (err) {
      this.fail(err);
    }
  }

  private onHeader(header: PutHeader): void {
    if (this.assembler) throw refusePut("protocol", "header", "sent twice");
    const intent = parsePutHeader(header);
    this.deps.store.precheck(intent);
    if (!this.deps.budget.tryAcquire(intent.totalBytes)) {
      throw new PutRefusedError(
        "busy",
        "RESOURCE_EXHAUSTED",
        "header.total_bytes",
        `too many bytes of puts in flight (limit ${this.deps.budget.limitBytes}); retry`,
        {
          retryAfterMs: PUT_RETRY_AFTER_MS,
        },
      );
    }
    this.reservedBytes = intent.totalBytes;
    this.assembler = new PutAssembler(intent);
  }

  private onEnd(): void {
    if (this.settled) return;
    try {
      if (!this.assembler) throw refusePut("protocol", "header", "the stream ended without a PutHeader");
      const intent = this.assembler.intent;
      const bytes = this.assembler.finish();
      this.deps.store.put(intent, bytes).then(
        (r) => {
          this.deps.metrics?.putAccepted(r.created);
          if (r.created) this.deps.metrics?.written(r.tier, "grpc", bytes.length);
          this.succeed({ created: r.created, tier: tierToWire(r.tier) });
        },
        (err: unknown) => this.fail(err),
      );
    } catch (err) {
      this.fail(err);
    }
  }

  private succeed(res: PutResponse): void {
    if (!this.settle()) return;
    this.callback(null, res);
  }

  private fail(err: unknown): void {
    if (!this.settle()) return;
    const reason = refusalReasonOf(err);
    if (reason) this.deps.metrics?.putRefused(reason);
    else if (!(err instanceof KvtierError && err.code === "CANCELLED")) this.deps.log?.error("put failed", { err: String(err) });
    this.callback(statusOf(err));
  }

  /** True the first time: release the budget and drop the assembler. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.deps.budget.release(this.reservedBytes);
    this.reservedBytes = 0;
    this.assembler = undefined;
    return true;
  }
}
