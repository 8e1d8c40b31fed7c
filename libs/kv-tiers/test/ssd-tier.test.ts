// SsdTier on real files in a temporary directory: two-phase writes, the index rebuilt from the
// directory (leftover temporary files and partial block files dropped), every read verified (a
// flipped byte is caught and the file deleted), capacity and pins, conflicts, and a real full
// device (a 1 MiB tmpfs, when this process may mount one).
import { execFileSync } from "node:child_process";
import { mkdtempSync, promises as fsp, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readKvBlockHeader } from "@kvtier/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { blockKey, type BlockKey } from "../src/block-key.js";
import { SsdTier, SsdWriteError } from "../src/ssd-tier.js";
import { SMALL_BLOCK_BYTES, hashOf, makeBlock } from "./support/blocks.js";

const dirs: string[] = [];
const newDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "kvtier-ssd-test-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const hex = (h: Uint8Array): string => Buffer.from(h).toString("hex");
const keyOf = (b: Uint8Array): BlockKey => blockKey(hashOf(b), "fp32");
const crcOf = (b: Uint8Array): number => readKvBlockHeader(b).checksum;
const write = (t: SsdTier, b: Uint8Array, parent?: Uint8Array, durable = true): Promise<string> =>
  t.write(keyOf(b), b, { parent, checksum: crcOf(b), durable });

describe("SsdTier", () => {
  it("writes whole files only, reads them back verified, and rebuilds its index on open", async () => {
    const dir = newDir();
    const blocks = [1, 2, 3].map((seed) => makeBlock({ seed }));
    let tier = await SsdTier.open({ dir, capacityBytes: 1 << 20 });
    expect(await write(tier, blocks[0])).toBe("created");
    expect(await write(tier, blocks[1], hashOf(blocks[0]), false)).toBe("created");
    expect(await write(tier, blocks[0])).toBe("existing");
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    expect(readdirSync(join(dir, "blocks"))).toHaveLength(2);
    const r = await tier.read(keyOf(blocks[1]));
    expect(r.kind === "hit" && Buffer.from(r.bytes).equals(blocks[1])).toBe(true);
    expect((await tier.read(keyOf(blocks[2]))).kind).toBe("miss");
    await tier.close();

    // a crash's leftovers: a temporary file, and a block file cut short
    await fsp.writeFile(join(dir, "tmp", "leftover.tmp"), "half a block");
    const name = readdirSync(join(dir, "blocks")).find((n) => n.startsWith(hex(hashOf(blocks[0]))))!;
    const cut = name.replace(hex(hashOf(blocks[0])), hex(hashOf(blocks[2]))); // same size and shape, 100 bytes written
    await fsp.writeFile(join(dir, "blocks", cut), blocks[2].subarray(0, 100));
    await fsp.writeFile(join(dir, "blocks", "notes.txt"), "not a block");

    tier = await SsdTier.open({ dir, capacityBytes: 1 << 20 });
    expect(tier.startup).toMatchObject({ removedTemp: 1, removedPartial: 1, foreign: 1 });
    expect(tier.blockCount).toBe(2);
    expect(tier.usedBytes).toBe(2 * SMALL_BLOCK_BYTES);
    expect(tier.has(keyOf(blocks[0])) && tier.has(keyOf(blocks[1])) && !tier.has(keyOf(blocks[2]))).toBe(true);
    expect(Buffer.from(tier.parentOf(keyOf(blocks[1]))!).equals(hashOf(blocks[0]))).toBe(true);
    const again = await tier.read(keyOf(blocks[0]));
    expect(again.kind === "hit" && Buffer.from(again.bytes).equals(blocks[0])).toBe(true);
    await tier.close();
  });

  it("catches a flipped byte on read, deletes the file and never returns the bytes", async () => {
    const dir = newDir();
    const tier = await SsdTier.open({ dir, capacityBytes: 1 << 20 });
    const b = makeBlock({ seed: 9 });
    await write(tier, b);
    const [name] = readdirSync(join(dir, "blocks"));
    const file = join(dir, "blocks", name);
    const bytes = await fsp.readFile(file);
    bytes[bytes.length - 7] ^= 0x40;
    await fsp.writeFile(file, bytes);
    const r = await tier.read(keyOf(b));
    expect(r.kind).toBe("corrupt");
    expect(r.kind === "corrupt" && r.problem).toContain("BAD_CHECKSUM");
    expect(tier.has(keyOf(b))).toBe(false);
    expect(tier.usedBytes).toBe(0);
    await tier.close();
    expect(readdirSync(join(dir, "blocks"))).toEqual([]);
  });

  it("never holds more than its capacity, evicts leaves first, keeps pinned blocks, refuses when only pins are left", async () => {
    const dir = newDir();
    const tier = await SsdTier.open({ dir, capacityBytes: 3 * SMALL_BLOCK_BYTES });
    const evicted: string[] = [];
    tier.onEvicted((e) => evicted.push(...e.map((x) => x.key.id)));
    const chain = [1, 2, 3].map((seed) => makeBlock({ seed: 20 + seed }));
    await write(tier, chain[0]);
    await write(tier, chain[1], hashOf(chain[0]));
    await write(tier, chain[2], hashOf(chain[1]));
    const other = makeBlock({ seed: 30 });
    await write(tier, other);
    expect(evicted).toEqual([keyOf(chain[2]).id]); // the leaf, not the oldest
    expect(tier.usedBytes).toBeLessThanOrEqual(3 * SMALL_BLOCK_BYTES);
    for (const b of [chain[0], chain[1], other]) tier.pin(keyOf(b));
    const more = makeBlock({ seed: 31 });
    const err = await write(tier, more).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SsdWriteError);
    expect((err as SsdWriteError).code).toBe("over_capacity");
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    tier.unpin(keyOf(other));
    expect(await write(tier, more)).toBe("created");
    expect(tier.has(keyOf(other))).toBe(false);
    await tier.close();
  });

  it("tells a conflict from a re-put without reading, and runs concurrent writes of one block once", async () => {
    const dir = newDir();
    const tier = await SsdTier.open({ dir, capacityBytes: 1 << 20 });
    const b = makeBlock({ seed: 40 });
    const outcomes = await Promise.all([write(tier, b), write(tier, b, undefined, false), write(tier, b)]);
    expect(outcomes.sort()).toEqual(["created", "existing", "existing"]);
    const other = makeBlock({ seed: 41, blockHash: hashOf(b) }); // same key, other bytes
    expect(await write(tier, other)).toBe("conflict");
    expect(tier.differs(keyOf(b), other.length, crcOf(other))).toBe(true);
    expect(readdirSync(join(dir, "blocks"))).toHaveLength(1);
    await tier.close();
  });

  const canMount = process.getuid?.() === 0;
  it.runIf(canMount)("refuses a write on a full device (ENOSPC) and leaves nothing partial behind", async () => {
    const dir = newDir();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    try {
      const tier = await SsdTier.open({ dir, capacityBytes: 1 << 30 });
      const big = (seed: number): Uint8Array => makeBlock({ seed, nLayers: 4, nKvHeads: 8, headDim: 32 }); // 131,184 bytes
      let written = 0;
      let failure: unknown;
      for (let seed = 1; seed <= 20 && !failure; seed++) {
        try {
          await write(tier, big(seed));
          written++;
        } catch (err) {
          failure = err;
        }
      }
      expect(failure).toBeInstanceOf(SsdWriteError);
      expect((failure as SsdWriteError).code).toBe("no_space");
      expect(written).toBeGreaterThan(0);
      expect(tier.blockCount).toBe(written);
      expect(readdirSync(join(dir, "tmp"))).toEqual([]);
      await tier.close();
      const reopened = await SsdTier.open({ dir, capacityBytes: 1 << 30 });
      expect([reopened.blockCount, reopened.startup.removedPartial]).toEqual([written, 0]);
      for (const k of [...reopened.keys()]) expect((await reopened.read(k)).kind).toBe("hit");
      await reopened.close();
    } finally {
      execFileSync("umount", [dir]);
    }
  });
});
