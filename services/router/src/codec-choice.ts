// Which codec a request's stored blocks use: the request's codec field or the deployment default,
// an alias ("kivi2") resolved to its id ("kivi2-g32-f16"), and refused when this deployment's
// block size is smaller than the codec's groups (KIVI needs block_size >= 32).
import { KvBlockError, checkCodecBlockSize, codecAliases, resolveCodecId } from "@kvtier/tensor";

/**
 * The codec id `name` stands for, checked against `blockSize`; `fail(problem)` builds the error
 * (INVALID_ARGUMENT naming the request field, or a ConfigError naming the variable).
 */
export function chooseCodec(name: string, knownCodecs: readonly string[], blockSize: number, fail: (problem: string) => Error): string {
  const unknown = (): string =>
    `unknown codec "${name}" (known: ${knownCodecs.join(", ")}; aliases: ${[...codecAliases().keys()].join(", ")})`;
  let id: string;
  try {
    id = resolveCodecId(name);
    checkCodecBlockSize(id, blockSize);
  } catch (err) {
    if (err instanceof KvBlockError) throw fail(err.code === "UNKNOWN_CODEC" ? unknown() : err.message);
    throw err;
  }
  if (!knownCodecs.includes(id)) throw fail(unknown());
  return id;
}
