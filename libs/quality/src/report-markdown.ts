// The harness report as Markdown: one table row per method, the paired comparisons, the protocol.
import type { QualityReport } from "./quality-report.js";
import type { MethodSummary } from "./summarize.js";

const fmt = (x: number | null, digits = 3): string => (x === null || !Number.isFinite(x) ? "—" : x.toFixed(digits));
const sci = (x: number): string => (x === 0 ? "0" : x.toExponential(2));
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const ci = (c: [number, number], f: (x: number) => string): string => `[${f(c[0])}, ${f(c[1])}]`;

function row(m: MethodSummary): string {
  return [
    m.id,
    m.kind,
    fmt(m.bytes_per_token, 1),
    fmt(m.ratio_vs_fp16, 2),
    `${sci(m.kl)} ${ci(m.kl_ci95, sci)}`,
    `${pct(m.top1)} ${ci(m.top1_ci95, pct)}`,
    `${fmt(m.ppl, 3)} (${m.ppl_delta >= 0 ? "+" : ""}${fmt(m.ppl_delta, 3)})`,
    sci(m.attn_rel_err),
    fmt(m.encode_gbps, 2),
    fmt(m.decode_gbps, 2),
  ].join(" | ");
}

/** Render the report. */
export function renderMarkdown(r: QualityReport): string {
  const lines: string[] = [];
  lines.push(`# KV compression quality — ${r.model}`, "");
  lines.push(
    `Text: ${r.text.source} (${r.text.tokens} tokens), ${r.text.windows} windows of ${r.protocol.window_tokens} tokens at stride ${r.protocol.stride_tokens}; ` +
      `block size ${r.protocol.block_size}; wall time ${r.wall_seconds.toFixed(1)} s.`,
    "",
  );
  lines.push(
    "| method | kind | bytes/token | ratio vs fp16 | KL (95% CI) | top-1 (95% CI) | ppl (Δ) | attn rel err | enc GB/s | dec GB/s |",
  );
  lines.push("| --- | --- | ---: | ---: | --- | --- | --- | ---: | ---: | ---: |");
  for (const m of r.methods) lines.push(`| ${row(m)} |`);
  if (r.comparisons.length > 0) {
    lines.push("", "## Paired comparisons (same windows, bootstrap 95% intervals)", "");
    lines.push("| a vs b | windows | KL(a)/KL(b) | KL(a) − KL(b) | top-1(a) − top-1(b) |");
    lines.push("| --- | ---: | --- | --- | --- |");
    for (const c of r.comparisons) {
      lines.push(
        `| ${c.a} vs ${c.b} | ${c.windows} | ${fmt(c.kl_ratio, 3)} ${ci(c.kl_ratio_ci95, (x) => fmt(x, 3))} | ` +
          `${sci(c.kl_diff)} ${ci(c.kl_diff_ci95, sci)} | ${pct(c.top1_diff)} ${ci(c.top1_diff_ci95, pct)} |`,
      );
    }
  }
  if (r.entropy_headroom.length > 0) {
    const w = r.entropy_headroom[0].windows;
    lines.push(
      "",
      `## Entropy-coding headroom (CacheGen-style; static per-channel distributions learned on ${w.train} codec windows, measured on ${w.test})`,
      "",
    );
    lines.push(
      "| codec | code bits/value | ideal coder | ideal coder on token deltas | payload bits/value | with the better coder | payload saving |",
    );
    lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (const e of r.entropy_headroom) {
      lines.push(
        `| ${e.codec} | ${fmt(e.code_bits, 2)} | ${fmt(e.coded_bits, 3)} | ${fmt(e.delta_coded_bits, 3)} | ${fmt(e.block_bits, 3)} | ${fmt(e.block_bits_entropy, 3)} | ${pct(e.saving)} |`,
      );
    }
  }
  lines.push("", "## Protocol", "");
  lines.push(
    `- Teacher-forced over each window (BOS + ${r.protocol.window_tokens - 1} text tokens); KL(P_uncompressed ‖ P_method) of the next-token distribution, ` +
      "top-1 = the argmax agrees, perplexity of the true next token; intervals resample whole windows.",
    `- Codecs compress every position as it is written (per token; per full ${r.protocol.block_size}-token block when their groups span tokens, the unfinished ` +
      `tail block staying as computed like KIVI's residual window) and are scored at positions ${r.protocol.codec_score_from}..${r.protocol.window_tokens - 2} ` +
      `of the windows at stride ${r.protocol.codec_stride_tokens}.`,
    `- Policies compress once after a ${r.protocol.policy_compress_at}-token prefill and are scored at positions ${r.protocol.policy_compress_at}..${r.protocol.window_tokens - 2} ` +
      `of every window (stride ${r.protocol.stride_tokens}).`,
    "- ratio vs fp16: fp16 bytes over stored bytes of the same full blocks, headers and scales included (codecs), or over the positions kept at compression (policies).",
    "- attn rel err: each layer in isolation, reference queries over the method's cache, mean ‖o′ − o‖/‖o‖ per row (codecs: every 4th scored position).",
    "- GB/s: fp32 KV bytes through the codec's encode / decode, fastest of 3 passes over each window's blocks.",
  );
  return lines.join("\n") + "\n";
}
