// What the prefill and decode workers' in-process tests share: a namespace of their own per
// scenario (Redis keys, NATS subjects, block hashes), metric reads, the clean-up of a namespace's
// Redis keys, and the story prompt they run.
import { randomUUID } from "node:crypto";
import type { Redis } from "@kvtier/platform";

/** The text whose first tokens are the scenarios' prompt. */
export const STORY =
  "Once upon a time, there was a little dog named Max. Max liked to run in the park with his friend Sam. " +
  "One day, Sam found a big red ball under a tree. They played with the ball all day long.";

/** A namespace no other test uses: Redis keys, NATS subjects and block hashes. */
export const randomNamespace = (): string => `t${randomUUID().replaceAll("-", "").slice(0, 16)}`;

/** A prom-client counter or gauge, as far as reading it goes. */
interface ReadableMetric {
  get(): Promise<{ values: { labels: Partial<Record<string, string | number>>; value: number }[] }>;
}

/** A metric's value (0 when never set), for the label set given. */
export async function metricValue(m: ReadableMetric, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await m.get();
  const match = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return match?.value ?? 0;
}

/** Delete every Redis key of namespace `ns`. */
export async function deleteNamespace(redis: Redis, ns: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${ns}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}
