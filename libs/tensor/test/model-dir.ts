// Test helper: where the shared models live (KVTIER_MODEL_DIR, else ../shared/models next to the repo).
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Directory holding stories260K.bin and tok512.bin. */
function modelDir(): string {
  const fromEnv = process.env.KVTIER_MODEL_DIR;
  return fromEnv !== undefined && fromEnv.trim() !== "" ? fromEnv : resolve(repoRoot, "../shared/models");
}

export const checkpointPath = (): string => resolve(modelDir(), "stories260K.bin");
export const tokenizerPath = (): string => resolve(modelDir(), "tok512.bin");
