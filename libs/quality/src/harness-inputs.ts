// What every harness run loads, in the main thread or in a worker: the model, the tokenized text,
// and a fresh entropy-headroom probe over the integer codecs.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { INT8_SPEC, kiviSpec, loadCheckpoint, Tokenizer, type AffineCodecSpec, type LlamaModel } from "@kvtier/tensor";
import { EntropyHeadroomProbe } from "./entropy-headroom.js";
import { HARNESS_BLOCK_TOKENS } from "./run-quality.js";

/** The committed held-out text (two long narratives, 4,977 stories260K tokens; data/held-out-more.txt holds two more for --text). */
const HELD_OUT_TEXT_PATH = fileURLToPath(new URL("../data/held-out.txt", import.meta.url));

/** Integer codecs whose entropy-coding headroom the report measures. */
const ENTROPY_PROBED_CODECS: readonly AffineCodecSpec[] = [INT8_SPEC, kiviSpec(4), kiviSpec(2)];

/** The model, its BOS id and the text's tokens (no BOS). */
export interface HarnessInputs {
  model: LlamaModel;
  bos: number;
  textPath: string;
  textTokens: number[];
}

/** Load stories260K from `modelDir` and tokenize the text at `textPath` (default: the held-out text). */
export function loadInputs(modelDir: string, textPath?: string): HarnessInputs {
  const model = loadCheckpoint(join(modelDir, "stories260K.bin"));
  const tokenizer = Tokenizer.fromFile(join(modelDir, "tok512.bin"), model.config.vocabSize);
  const path = resolve(textPath ?? HELD_OUT_TEXT_PATH);
  return { model, bos: tokenizer.bosId, textPath: path, textTokens: tokenizer.encode(readFileSync(path, "utf8"), { bos: false }) };
}

/** A probe over ENTROPY_PROBED_CODECS for this model. */
export function entropyProbe(model: LlamaModel): EntropyHeadroomProbe {
  return new EntropyHeadroomProbe(
    model.config,
    HARNESS_BLOCK_TOKENS,
    ENTROPY_PROBED_CODECS.map((s) => s.id),
    new Map(ENTROPY_PROBED_CODECS.map((s) => [s.id, s])),
  );
}
