import { defineConfig } from "vitest/config";

// One test run for the whole workspace. Tests import sources; anything that runs in another
// process or thread (services, the engine worker) runs the compiled dist, so `pnpm build` first.
export default defineConfig({
  test: {
    include: ["libs/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "tools/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    fileParallelism: false,
  },
});
