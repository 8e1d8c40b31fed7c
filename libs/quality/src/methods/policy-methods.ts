// Selection-policy rows of the quality harness (SnapKV, PyramidKV, ChunkKV, StreamingLLM, H2O,
// Quest, AdaptiveKV at each budget): each runs the engine's own policy on the window (prefill,
// compress, teacher-forced continuation), so the harness scores exactly what serving runs.
import { LlamaEngine, parsePolicySpec, type PolicyMethod } from "@kvtier/tensor";
import { attentionOutputError } from "../attention-error.js";
import type { QualityMethodRegistry } from "../method-registry.js";
import type { EvalWindow, QualityMethod, WindowOutcome } from "../quality-method.js";

/** Budgets (percent of the prompt positions) every policy is scored at. */
const POLICY_BUDGETS_PERCENT = [50, 25, 12.5] as const;

/** Registration order of the policy rows. */
const POLICY_ROW_METHODS: readonly PolicyMethod[] = ["snapkv", "pyramidkv", "chunkkv", "streamingllm", "h2o", "quest", "adaptivekv"];

/** Bytes of one fp16 value. */
const FP16_BYTES = 2;

const DESCRIPTIONS: Record<PolicyMethod, string> = {
  snapkv:
    "SnapKV: last 32 prompt rows vote, max-pooled per query head (kernel 7 scaled to the voted budget: 3 here) then averaged over the GQA group, window kept (<= half the budget)",
  pyramidkv: "PyramidKV: SnapKV selection, per-layer budgets in a pyramid (beta 20) summing to the total",
  chunkkv: "ChunkKV: SnapKV votes summed over 10-token chunks, whole chunks kept, index reused by 2 layers",
  streamingllm: "StreamingLLM: 4 sink tokens plus the most recent positions",
  h2o: "H2O: accumulated attention, half heavy hitters half recent; evicts every decode step (budget share of the context)",
  quest: "Quest: per-page key min/max, per-query top pages by upper bound (pages = harness blocks), nothing evicted",
  adaptivekv: "adaptivekv: per-layer budgets from each layer's measured attention spread, SnapKV selection within",
};

/** The key positions each (query, layer, KV head) read, recorded from the engine's observer. */
class VisibilityRecorder {
  private readonly seen = new Map<number, Uint8Array>();

  constructor(
    private readonly nKvHeads: number,
    private readonly kvMul: number,
    private readonly nLayers: number,
    private readonly maxPos: number,
  ) {}

  record(position: number, layer: number, head: number, positions: Int32Array): void {
    if (head % this.kvMul !== 0) return;
    const mask = new Uint8Array(this.maxPos);
    for (const p of positions) mask[p] = 1;
    this.seen.set(this.key(position, layer, head / this.kvMul), mask);
  }

  visible = (layer: number, kvHead: number, query: number, key: number): boolean =>
    this.seen.get(this.key(query, layer, kvHead))?.[key] === 1;

  private key(position: number, layer: number, kvHead: number): number {
    return (position * this.nLayers + layer) * this.nKvHeads + kvHead;
  }
}

/**
 * Ablation rows, row id -> policy spec: SnapKV-based selection without vote pooling (kernel 1)
 * and with the paper's kernel 7 unscaled, instead of the default scaled kernel (3 at a 256-token
 * prompt). Ids carry no comma so `--methods a,b` can name them.
 */
const POLICY_ABLATION_ROWS: Readonly<Record<string, string>> = {
  "snapkv-k1@50": "snapkv@50,kernel=1",
  "snapkv-k1@25": "snapkv@25,kernel=1",
  "snapkv-k7@50": "snapkv@50,kernel=7",
  "snapkv-k7@25": "snapkv@25,kernel=7",
  "adaptivekv-k1@50": "adaptivekv@50,kernel=1",
  "adaptivekv-k1@25": "adaptivekv@25,kernel=1",
};

/** One policy row running `policy` ("snapkv@25", "snapkv@50,kernel=1"), reported as `id`. */
function policyMethod(policy: string, id = policy): QualityMethod {
  const spec = parsePolicySpec(policy);
  if (spec === null) throw new Error(`bad policy row ${policy}`);
  const kernel = spec.kernel === undefined ? "" : `; vote pooling kernel ${spec.kernel} (ablation)`;
  return {
    id,
    kind: "policy",
    description: `${DESCRIPTIONS[spec.method]}; budget ${spec.budgetPercent}% of the prompt${kernel}`,
    evaluate(window: EvalWindow): WindowOutcome {
      const { model, tokens, compressAt, scoreFrom, scoreTo, blockSize } = window;
      const c = model.config;
      const engine = new LlamaEngine(model, { blockSize, capacityBlocks: 2 * Math.ceil(c.seqLen / blockSize) + 2 });
      const recorder = new VisibilityRecorder(c.nKvHeads, c.nHeads / c.nKvHeads, c.nLayers, c.seqLen);
      engine.setAttentionObserver((e) => {
        if (e.positions !== undefined && e.position >= scoreFrom) recorder.record(e.position, e.layer, e.head, e.positions);
      });
      engine.openSequence("q");
      engine.setSelectionPolicy("q", policy, compressAt);
      engine.prefill("q", tokens.slice(0, compressAt) as number[]);
      const summary = engine.compress("q");
      const all = engine.prefillWithLogits("q", tokens.slice(compressAt, scoreTo + 1) as number[]);
      engine.closeSequence("q");
      const perEntry = 2 * c.headDim * FP16_BYTES; // K and V of one (layer, KV head, position)
      return {
        logits: all.slice(scoreFrom - compressAt),
        storedBytes: summary.keptEntries * perEntry,
        fp16Bytes: summary.totalEntries * perEntry,
        positions: compressAt,
        attentionRelError: attentionOutputError(c, window.reference, { from: scoreFrom, to: scoreTo, visible: recorder.visible }),
      };
    },
  };
}

/** Register every selection-policy method (kind "policy"), and the comparisons to report between them. */
export function registerPolicyMethods(registry: QualityMethodRegistry): void {
  for (const budget of POLICY_BUDGETS_PERCENT) {
    for (const method of POLICY_ROW_METHODS) registry.register(policyMethod(`${method}@${budget}`));
    registry.compare(`snapkv@${budget}`, `streamingllm@${budget}`);
    registry.compare(`adaptivekv@${budget}`, `snapkv@${budget}`);
    registry.compare(`pyramidkv@${budget}`, `snapkv@${budget}`);
  }
  for (const [id, policy] of Object.entries(POLICY_ABLATION_ROWS)) {
    registry.register(policyMethod(policy, id));
    registry.compare(id, id.replace(/-k\d+@/, "@"));
  }
  registry.compare("snapkv-k1@25", "streamingllm@25");
}
