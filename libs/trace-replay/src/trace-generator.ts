// Synthetic Mooncake-format traces, seeded and shaped, to check that routing results hold beyond
// the one published trace. Block ids are prefix-chained like the real trace's: a request reusing
// a context repeats that context's ids and appends fresh ones. Arrivals are Poisson with a rate
// that swells and ebbs (period TRACE_RATE_PERIOD_S), so some windows are busier than others.
import { TRACE_BLOCK_TOKENS, type TraceRequest } from "./mooncake-trace.js";
import { ReplayError } from "./replay-error.js";
import { seededUniform } from "@kvtier/kv-router";

/** Period of the arrival rate's swell, in seconds. */
const TRACE_RATE_PERIOD_S = 300;
/** Most requests a generated trace may hold. */
const MAX_GENERATED_REQUESTS = 1_000_000;

/** How a synthetic trace is shaped. */
export interface TraceShape {
  /** Mean arrival rate, requests/s. */
  ratePerS: number;
  /** Relative swell of the rate: rate × (1 + swell × sin(2πt / period)), in [0, 1). */
  swell: number;
  /** Trace length, seconds. */
  durationS: number;
  /** Probability that a request opens a new context rather than reusing a recent one. */
  newContext: number;
  /** Blocks of a new context, [min, max], drawn log-uniformly. */
  contextBlocks: [number, number];
  /** Fresh blocks a request appends to its context, [min, max], uniform. */
  tailBlocks: [number, number];
  /** Probability that a reuse extends the context for later requests (a multi-turn session). */
  sessionGrowth: number;
  /** Mean age, in contexts opened since, of the context a reuse picks (exponential). */
  reuseRecency: number;
  /** Shared system prompts every new context starts with (0 = none). */
  systemPrompts: number;
  /** Zipf exponent of the system prompts' popularity. */
  systemPromptZipf: number;
  /** Blocks of a system prompt, [min, max], uniform. */
  systemPromptBlocks: [number, number];
  /** Output tokens, [min, max], log-uniform. */
  outputTokens: [number, number];
}

/** Named shapes, each a workload seen in LLM serving. */
export const TRACE_SHAPES = {
  /** Long documents asked about again within minutes, short questions (the Mooncake trace's shape). */
  docqa: {
    ratePerS: 4,
    swell: 0.5,
    durationS: 1000,
    newContext: 0.55,
    contextBlocks: [8, 80],
    tailBlocks: [0, 3],
    sessionGrowth: 0,
    reuseRecency: 150,
    systemPrompts: 0,
    systemPromptZipf: 0,
    systemPromptBlocks: [0, 0],
    outputTokens: [1, 800],
  },
  /** Multi-turn chats: each turn extends the session's previous prompt. */
  chat: {
    ratePerS: 4,
    swell: 0.5,
    durationS: 1000,
    newContext: 0.35,
    contextBlocks: [2, 24],
    tailBlocks: [1, 4],
    sessionGrowth: 0.9,
    reuseRecency: 80,
    systemPrompts: 0,
    systemPromptZipf: 0,
    systemPromptBlocks: [0, 0],
    outputTokens: [16, 800],
  },
  /** A few hot system prompts shared by everyone, unique long contexts after them. */
  sysprompt: {
    ratePerS: 4,
    swell: 0.5,
    durationS: 1000,
    newContext: 0.9,
    contextBlocks: [2, 30],
    tailBlocks: [1, 40],
    sessionGrowth: 0,
    reuseRecency: 100,
    systemPrompts: 20,
    systemPromptZipf: 1.1,
    systemPromptBlocks: [1, 4],
    outputTokens: [1, 400],
  },
  /** Agents: very long shared tool-and-instruction prefixes, many steps per task, growing. */
  agent: {
    ratePerS: 6,
    swell: 0.8,
    durationS: 800,
    newContext: 0.15,
    contextBlocks: [16, 120],
    tailBlocks: [1, 6],
    sessionGrowth: 0.7,
    reuseRecency: 40,
    systemPrompts: 6,
    systemPromptZipf: 0.8,
    systemPromptBlocks: [4, 12],
    outputTokens: [8, 300],
  },
  /**
   * Many tenants, each with its own long system prompt (Zipf popularity), and multi-turn chats
   * after it: hot prefixes of several thousand tokens, short turns that extend the session.
   */
  tenants: {
    ratePerS: 5,
    swell: 0.5,
    durationS: 900,
    newContext: 0.3,
    contextBlocks: [1, 8],
    tailBlocks: [1, 4],
    sessionGrowth: 0.85,
    reuseRecency: 60,
    systemPrompts: 40,
    systemPromptZipf: 1.0,
    systemPromptBlocks: [8, 24],
    outputTokens: [16, 600],
  },
} as const satisfies Record<string, TraceShape>;

/** Name of a built-in shape. */
export type TraceShapeName = keyof typeof TRACE_SHAPES;

/** Names of the built-in shapes. */
export const TRACE_SHAPE_NAMES = Object.keys(TRACE_SHAPES) as TraceShapeName[];

function assertShape(s: TraceShape): void {
  const bad = (name: string, problem: string): ReplayError => new ReplayError("INVALID_OPTION", `shape.${name}`, problem);
  const pos = (name: keyof TraceShape, v: number): void => {
    if (!(Number.isFinite(v) && v > 0)) throw bad(name, `expected a number > 0, got ${v}`);
  };
  const prob = (name: keyof TraceShape, v: number, max = 1): void => {
    if (!(Number.isFinite(v) && v >= 0 && v <= max)) throw bad(name, `expected a number in [0, ${max}], got ${v}`);
  };
  const range = (name: keyof TraceShape, [lo, hi]: [number, number], min: number): void => {
    if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo >= min && hi >= lo))
      throw bad(name, `expected integers ${min} <= min <= max, got [${lo}, ${hi}]`);
  };
  pos("ratePerS", s.ratePerS);
  pos("durationS", s.durationS);
  pos("reuseRecency", s.reuseRecency);
  prob("swell", s.swell, 0.99);
  prob("newContext", s.newContext);
  prob("sessionGrowth", s.sessionGrowth);
  prob("systemPromptZipf", s.systemPromptZipf, 10);
  range("contextBlocks", s.contextBlocks, 1);
  range("tailBlocks", s.tailBlocks, 0);
  range("systemPromptBlocks", s.systemPromptBlocks, s.systemPrompts > 0 ? 1 : 0);
  range("outputTokens", s.outputTokens, 0);
  if (!Number.isSafeInteger(s.systemPrompts) || s.systemPrompts < 0)
    throw bad("systemPrompts", `expected an integer >= 0, got ${s.systemPrompts}`);
  if (s.ratePerS * (1 + s.swell) * s.durationS > MAX_GENERATED_REQUESTS)
    throw bad("ratePerS", `more than ${MAX_GENERATED_REQUESTS} requests`);
}

/**
 * A synthetic trace of shape `shape` (a built-in name or a full shape, optionally adjusted by
 * `overrides`). The same inputs give the same trace.
 * @throws {ReplayError} `INVALID_OPTION` naming a bad shape field.
 */
export function generateTrace(shape: TraceShapeName | TraceShape, seed: number, overrides: Partial<TraceShape> = {}): TraceRequest[] {
  const base: TraceShape | undefined = typeof shape === "string" ? (TRACE_SHAPES as Record<string, TraceShape>)[shape] : shape;
  if (base === undefined)
    throw new ReplayError("INVALID_OPTION", "shape", `unknown shape "${String(shape)}" (known: ${TRACE_SHAPE_NAMES.join(", ")})`);
  const s: TraceShape = { ...base, ...overrides };
  assertShape(s);
  const rng = seededUniform(seed);
  const uniform = ([lo, hi]: readonly [number, number]): number => lo + Math.floor(rng() * (hi - lo + 1));
  const logUniform = ([lo, hi]: readonly [number, number]): number =>
    lo === 0 ? Math.floor(rng() * (hi + 1)) : Math.min(hi, Math.floor(Math.exp(Math.log(lo) + rng() * (Math.log(hi + 1) - Math.log(lo)))));
  let nextId = 0;
  const fresh = (n: number): number[] => Array.from({ length: n }, () => nextId++);
  const systemPrompts = Array.from({ length: s.systemPrompts }, () => fresh(uniform(s.systemPromptBlocks)));
  // Zipf over system prompts by inverse CDF on the precomputed weights
  const zipf = systemPrompts.map((_, k) => 1 / Math.pow(k + 1, s.systemPromptZipf));
  const zipfTotal = zipf.reduce((a, b) => a + b, 0);
  const pickSystemPrompt = (): number[] => {
    let r = rng() * zipfTotal;
    for (let k = 0; k < zipf.length; k++) if ((r -= zipf[k]) < 0) return systemPrompts[k];
    return systemPrompts[systemPrompts.length - 1];
  };
  const contexts: number[][] = [];
  const out: TraceRequest[] = [];
  const peak = s.ratePerS * (1 + s.swell);
  let t = 0;
  for (;;) {
    // thinning of a Poisson process at the peak rate down to the swelling rate
    t += -Math.log(1 - rng()) / peak;
    if (t >= s.durationS) break;
    if (rng() * peak > s.ratePerS * (1 + s.swell * Math.sin((2 * Math.PI * t) / TRACE_RATE_PERIOD_S))) continue;
    let ids: number[];
    if (contexts.length === 0 || rng() < s.newContext) {
      ids = [...(systemPrompts.length > 0 ? pickSystemPrompt() : []), ...fresh(logUniform(s.contextBlocks))];
      contexts.push(ids);
    } else {
      // exponential age truncated to the contexts there are (clamping instead would pile the
      // whole tail onto the oldest context: early in a trace, one session would take most reuses)
      const span = 1 - Math.exp(-contexts.length / s.reuseRecency);
      const age = Math.min(contexts.length - 1, Math.floor(-Math.log(1 - rng() * span) * s.reuseRecency));
      const k = contexts.length - 1 - age;
      ids = [...contexts[k], ...fresh(uniform(s.tailBlocks))];
      if (rng() < s.sessionGrowth) contexts[k] = ids;
    }
    out.push({
      timestampMs: Math.round(t * 1000),
      inputTokens: (ids.length - 1) * TRACE_BLOCK_TOKENS + 1 + Math.floor(rng() * TRACE_BLOCK_TOKENS),
      outputTokens: logUniform(s.outputTokens),
      blockIds: ids,
    });
  }
  return out;
}
