// Named errors of the engine, its pool, checkpoint/tokenizer loading and the worker-thread host.

/** Stable reasons an engine-side call fails. */
export type EngineErrorCode =
  | "INVALID_ARGUMENT"
  | "UNKNOWN_SEQUENCE"
  | "DUPLICATE_SEQUENCE"
  | "POOL_EXHAUSTED"
  | "CONTEXT_OVERFLOW"
  | "BAD_CHECKPOINT"
  | "BAD_TOKENIZER"
  | "ENGINE_CLOSED"
  | "WORKER_FAILED";

/** Thrown by LlamaEngine, KvPool, loaders, Sampler and EngineHost; branch on `code`. */
export class EngineError extends Error {
  override readonly name = "EngineError";
  readonly code: EngineErrorCode;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Stable reasons a KV block cannot be imported into a sequence. */
export type KvImportErrorCode = "MODEL_MISMATCH" | "SHAPE_MISMATCH" | "MISALIGNED";

/**
 * Thrown by importBlocks when a (checksum-valid) block does not fit the engine or the sequence:
 * another model, another KV shape or block size, or a partial block that is not last.
 */
export class KvImportError extends Error {
  override readonly name = "KvImportError";
  readonly code: KvImportErrorCode;

  constructor(code: KvImportErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
