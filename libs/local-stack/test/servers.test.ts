// startRedis / startNats against the real binaries: they answer, and stop() takes them down.
import { describe, expect, it } from "vitest";
import { findBinary, requireBinary } from "../src/find-binary.js";
import { LocalStackError } from "../src/local-stack-error.js";
import { startNats } from "../src/nats-server.js";
import { startRedis } from "../src/redis-server.js";
import { NATS_INFO_PROBE, REDIS_PING_PROBE, probeOnce } from "../src/tcp-probe.js";
import { isAlive } from "./fixtures/process-alive.js";

const portOf = (url: string): number => Number(new URL(url).port);

describe("startRedis", () => {
  it("starts a redis-server that answers PING, and stop() kills it (idempotently)", async () => {
    const redis = await startRedis();
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await probeOnce(portOf(redis.url), REDIS_PING_PROBE)).toBe(true);
    await Promise.all([redis.stop(), redis.stop()]);
    await redis.stop();
    expect(isAlive(redis.pid)).toBe(false);
    expect(await probeOnce(portOf(redis.url), REDIS_PING_PROBE)).toBe(false);
  });

  it("two servers get two ports", async () => {
    const [a, b] = await Promise.all([startRedis(), startRedis()]);
    try {
      expect(a.port).not.toBe(b.port);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe("startNats", () => {
  it("starts a nats-server that greets with INFO, and stop() kills it", async () => {
    const nats = await startNats();
    expect(nats.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);
    expect(await probeOnce(portOf(nats.url), NATS_INFO_PROBE)).toBe(true);
    await nats.stop();
    expect(isAlive(nats.pid)).toBe(false);
  });
});

describe("missing binaries", () => {
  it("findBinary finds installed ones (also in sbin) and not others", () => {
    expect(findBinary("redis-server")).toMatch(/redis-server$/);
    expect(findBinary("nats-server", "")).toMatch(/nats-server$/);
    expect(findBinary("kvtier-no-such-binary")).toBeUndefined();
  });

  it("says exactly what to install", () => {
    let thrown: unknown;
    try {
      requireBinary("kvtier-no-such-binary", "kvtier-pkg");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(LocalStackError);
    expect((thrown as LocalStackError).code).toBe("MISSING_BINARY");
    expect((thrown as LocalStackError).message).toContain("apt-get install -y kvtier-pkg");
  });
});
