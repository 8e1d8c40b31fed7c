// Helpers of the tier tests: chains of real blocks, puts that carry parent hashes and ack levels,
// gets that report the tier each block came from, KV events collected from NATS, polling.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kvEventsSubject, type NatsConnection } from "@kvtier/platform";
import { AckLevel, KvEventBatch, Tier } from "@kvtier/proto";
import { hashOf, makeBlock, type BlockSpec } from "../../../../libs/kv-tiers/test/support/blocks.js";
import { putMessages, rawGet, rawPut, type CallOutcome, type KvStoreServiceClient } from "./raw-client.js";

/** A fresh namespace for one test file. */
export const testNamespace = (): string => `t${randomUUID().replaceAll("-", "").slice(0, 12)}`;

/** A fresh directory under the OS temp dir. */
export const tempDir = (tag: string): string => mkdtempSync(join(tmpdir(), `kvtier-${tag}-`));

export const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");

/** `n` blocks of one chain (each names its parent in puts), with distinct seeds from `seed`. */
export function makeChain(n: number, seed: number, spec: BlockSpec = {}): Uint8Array[] {
  return Array.from({ length: n }, (_v, i) => makeBlock({ ...spec, seed: seed + i }));
}

/** Put one block with its parent's hash and an ack level over raw gRPC. */
export function putBlock(
  raw: KvStoreServiceClient,
  block: Uint8Array,
  opts: { parent?: Uint8Array; durable?: boolean } = {},
): Promise<CallOutcome> {
  const header = {
    blockHash: hashOf(block),
    codec: "fp32",
    ack: opts.durable ? AckLevel.ACK_LEVEL_DURABLE : AckLevel.ACK_LEVEL_MEMORY,
    parentHash: opts.parent,
  };
  return rawPut(raw, putMessages(block, header));
}

/** Put a chain in order, each block naming the one before it. */
export async function putChain(raw: KvStoreServiceClient, chain: Uint8Array[], durable = false): Promise<void> {
  for (let i = 0; i < chain.length; i++) {
    const r = await putBlock(raw, chain[i], { parent: i > 0 ? hashOf(chain[i - 1]) : undefined, durable });
    if (r.code !== 0) throw new Error(`put ${i} failed: ${r.code} ${r.details}`);
  }
}

/** A Get's served blocks: the tier each came from and its bytes reassembled. */
export async function getTiers(
  raw: KvStoreServiceClient,
  blocks: Uint8Array[],
  lease?: { id: string; ttlMs?: number },
): Promise<{ tier: Tier; bytes: Buffer }[]> {
  const r = await rawGet(raw, blocks.map(hashOf), "fp32", lease?.id ?? "", lease?.ttlMs);
  if (r.error) throw new Error(`get failed: ${r.error.code} ${r.error.details}`);
  const out: { tier: Tier; parts: Uint8Array[] }[] = [];
  for (const m of r.msgs) {
    if (m.part?.$case === "header") out.push({ tier: m.part.value.tier, parts: [] });
    else if (m.part?.$case === "chunk") out[out.length - 1].parts.push(m.part.value);
  }
  return out.map((o) => ({ tier: o.tier, bytes: Buffer.concat(o.parts) }));
}

/** KV events received on one store's subject. */
export class EventLog {
  readonly batches: KvEventBatch[] = [];

  constructor(nc: NatsConnection, ns: string, storeId: string) {
    nc.subscribe(kvEventsSubject(ns, storeId), {
      callback: (_err, msg) => {
        this.batches.push(KvEventBatch.decode(msg.data));
      },
    });
  }

  /** Hashes (hex) of `kind` events in `tier`, optionally of one incarnation, in arrival order. */
  hashes(kind: "stored" | "removed", tier: Tier, incarnation?: string): string[] {
    const out: string[] = [];
    for (const b of this.batches) {
      if (incarnation !== undefined && b.incarnation !== incarnation) continue;
      for (const e of b.events)
        if (e.event?.$case === kind && e.event.value.medium === tier) out.push(...e.event.value.blockHashes.map(hex));
    }
    return out;
  }
}

/** Poll `cond` every 20 ms until true; throws naming `what` after `timeoutMs`. Not a timing assertion: only a bound on waiting. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The tier of each leading block held, over raw gRPC. */
export function lookupTiers(raw: KvStoreServiceClient, blocks: Uint8Array[]): Promise<Tier[]> {
  return new Promise((resolve, reject) =>
    raw.lookup({ blockHashes: blocks.map(hashOf), codec: "fp32" }, (err, res) => (err ? reject(err) : resolve(res.tiers))),
  );
}

/** Used and capacity bytes per tier, over raw gRPC Info. */
export function tierInfo(
  raw: KvStoreServiceClient,
): Promise<{ host: { used: number; capacity: number; blocks: number }; ssd: { used: number; capacity: number; blocks: number } }> {
  return new Promise((resolve, reject) =>
    raw.info({}, (err, res) => {
      if (err) return reject(err);
      const used = res.usedBytesByTier!;
      const cap = res.capacityBytesByTier!;
      const blocks = res.blocksByTier!;
      resolve({
        host: { used: used.host, capacity: cap.host, blocks: blocks.host },
        ssd: { used: used.ssd, capacity: cap.ssd, blocks: blocks.ssd },
      });
    }),
  );
}

/** Release a lease over raw gRPC; resolves to the blocks it held. */
export function release(raw: KvStoreServiceClient, leaseId: string): Promise<number> {
  return new Promise((resolve, reject) => raw.release({ leaseId }, (err, res) => (err ? reject(err) : resolve(res.released))));
}
