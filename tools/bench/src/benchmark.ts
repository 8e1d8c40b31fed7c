// The shape every benchmark module exports; main.ts registers them by name.

/** A benchmark: runs, prints, and returns the JSON summary printed last. */
export type Benchmark = (args: string[]) => Promise<Record<string, unknown>>;
