// The methods one harness run scores, and the paired comparisons it reports between them.
import type { QualityMethod, QualityMethodKind } from "./quality-method.js";

/** A paired comparison to report: `a` against `b` on the same windows (both of the same kind). */
export interface MethodComparison {
  readonly a: string;
  readonly b: string;
}

/** Thrown on a duplicate or unknown method id; `code` is stable. */
export class QualityMethodError extends Error {
  override readonly name = "QualityMethodError";
  constructor(
    readonly code: "DUPLICATE_METHOD" | "UNKNOWN_METHOD" | "KIND_MISMATCH",
    message: string,
  ) {
    super(message);
  }
}

/** Methods by id, in registration order (the report's row order), plus comparisons to report. */
export class QualityMethodRegistry {
  private readonly methods = new Map<string, QualityMethod>();
  private readonly pairs: MethodComparison[] = [];

  /** Add a method; ids are unique. */
  register(method: QualityMethod): void {
    if (this.methods.has(method.id))
      throw new QualityMethodError("DUPLICATE_METHOD", `quality method "${method.id}" is already registered`);
    this.methods.set(method.id, method);
  }

  /** Report `a` against `b`, paired on the same windows (e.g. snapkv@25 against streamingllm@25). */
  compare(a: string, b: string): void {
    this.pairs.push({ a, b });
  }

  /** The method registered under `id`. */
  get(id: string): QualityMethod {
    const m = this.methods.get(id);
    if (m === undefined) throw new QualityMethodError("UNKNOWN_METHOD", `unknown quality method "${id}" (known: ${this.ids().join(", ")})`);
    return m;
  }

  /** Registered ids, in order, optionally of one kind. */
  ids(kind?: QualityMethodKind): string[] {
    return [...this.methods.values()].filter((m) => kind === undefined || m.kind === kind).map((m) => m.id);
  }

  /** Comparisons whose two methods are both in `selected`; throws if a registered pair mixes kinds. */
  comparisons(selected: readonly string[]): MethodComparison[] {
    const set = new Set(selected);
    return this.pairs.filter((p) => {
      if (!set.has(p.a) || !set.has(p.b)) return false;
      if (this.get(p.a).kind !== this.get(p.b).kind) {
        throw new QualityMethodError("KIND_MISMATCH", `cannot pair ${p.a} with ${p.b}: they are scored at different positions`);
      }
      return true;
    });
  }
}
