// The layering of kvtier, checked by `pnpm depcheck` (part of scripts/test.sh, like lint).
// Cruises the TypeScript of every package (`depcruise libs services tools tests`). src/ has every
// rule; libs/*/bench and all of tools/ (their tests too) also no-service-in-tools; other test/
// folders and tests/ only no-circular and the two resolution guards, since tests may start and
// call services. Workspace packages (@kvtier/*) resolve to their src/ through tsconfig.check.json
// (which `pnpm typecheck` also uses), so every rule sees imports through them, not their dist/.
// Type-only imports count everywhere (tsPreCompilationDeps): a wire or client type in a pure
// library's API ties it to that transport as much as a value import does.

/** The pure libraries: algorithms and formats with no networking, by path (libs/core and libs/serving included). */
const PURE_LIBS = "^libs/(tensor|kv-router|kv-tiers|trace-replay|quality|core|serving)/src/";

/**
 * Transport clients and the platform library: as resolved on disk (pnpm's store; platform's entry,
 * which every import of @kvtier/platform resolves to, so one reach reports once, not once per
 * platform file) or, when a package cannot be resolved from the importing library, by name.
 */
const TRANSPORT = [
  "(^|/)node_modules/(@grpc/grpc-js|ioredis|bullmq|@nats-io/[^/]+)/",
  "^libs/platform/src/index\\.ts$",
  "^(@grpc/grpc-js|ioredis|bullmq|@nats-io/[^/]+|@kvtier/platform)(/|$)",
];

/** The service packages, by folder or (unresolved) by name. */
const SERVICE = [
  "^services/",
  "(^|/)node_modules/@kvtier/(router|kvstore|prefill|decode)/",
  "^@kvtier/(router|kvstore|prefill|decode)(/|$)",
];

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "Modules depend one way: a circle of imports (type-only ones too) means two files are one concept or share types that belong in a module of their own.",
      from: {},
      to: { circular: true },
    },
    {
      name: "pure-lib-no-transport",
      severity: "error",
      comment:
        "Algorithms know nothing of transport: a pure library must not reach gRPC, Redis, BullMQ, NATS or @kvtier/platform, directly or through any package it imports (@kvtier/proto's generated code imports @grpc/grpc-js).",
      from: { path: PURE_LIBS },
      to: { path: TRANSPORT, reachable: true },
    },
    {
      name: "no-service-to-service",
      severity: "error",
      comment: "Services talk over the wire, never by import: what two services share belongs in a library.",
      from: { path: "^services/([^/]+)/src/" },
      to: { path: SERVICE, pathNot: "^services/$1/" },
    },
    {
      name: "no-service-in-tools",
      severity: "error",
      comment: "Tools and benchmarks call the libraries the services run (one copy of every decision), never a service's insides.",
      from: { path: ["^tools/", "^libs/[^/]+/bench/"] },
      to: { path: SERVICE },
    },
    {
      name: "workspace-imports-resolve-to-src",
      severity: "error",
      comment:
        "Guard for this check itself: a workspace package must resolve to its src/ (tsconfig.check.json), not dist/, or rules would see compiled code with type-only imports erased.",
      from: {},
      to: { path: "^(libs|services|tools)/[^/]+/dist/" },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      comment: "Guard for this check itself: an import it cannot resolve is one no rule can follow.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Gathering prunes these folders; a dependency into one is still seen (as a leaf): a transport
    // package in node_modules, or a dist/ that workspace-imports-resolve-to-src then reports.
    doNotFollow: { path: ["(^|/)node_modules(/|$)", "^(libs|services|tools)/[^/]+/dist(/|$)"] },
    // AssemblyScript kernels, compiled to .wasm and loaded from disk: not Node TypeScript.
    exclude: { path: "^libs/tensor/wasm/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.check.json" },
    // Resolve third-party packages as Node does (package.json "exports", e.g. @bufbuild/protobuf/wire).
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    // combinedDependencies stays off: no rule looks at npm dependency types (npm, npm-dev, ...).
    skipAnalysisNotInRules: true,
  },
};
