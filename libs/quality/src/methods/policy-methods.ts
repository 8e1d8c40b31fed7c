// Selection-policy rows of the quality harness (SnapKV, PyramidKV, ChunkKV, StreamingLLM, H2O,
// Quest, AdaptiveKV at each budget). Owned by the policies work: one registry.register(...) per row.
import type { QualityMethodRegistry } from '../method-registry.js';

/** Register every selection-policy method (kind "policy"), and the comparisons to report between them. */
export function registerPolicyMethods(registry: QualityMethodRegistry): void {
  // e.g. registry.register(snapKvMethod(25)); registry.compare('snapkv@25', 'streamingllm@25');
  void registry;
}
