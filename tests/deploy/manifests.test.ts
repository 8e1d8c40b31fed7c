// The Kubernetes manifests stay true to the code: every environment variable they set is one a
// service's config module reads, every service they run has an entry point, and ports agree.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const k8s = join(root, "deploy/k8s");
/** Variables the manifests define only to compose others (downward API). */
const COMPOSITION_VARS = new Set(["NODE_IP", "POD_IP"]);

interface Container {
  args?: string[];
  env?: { name: string }[];
}

function containers(): Container[] {
  const out: Container[] = [];
  for (const f of readdirSync(k8s).filter((x) => x.endsWith(".yaml") && x !== "kustomization.yaml")) {
    for (const doc of parseAllDocuments(readFileSync(join(k8s, f), "utf8"))) {
      const o = doc.toJS() as { spec?: { template?: { spec?: { containers?: Container[] } } } } | null;
      out.push(...(o?.spec?.template?.spec?.containers ?? []));
    }
  }
  return out;
}

/** Every variable name a config module mentions. */
function variablesRead(): Set<string> {
  const files = [
    join(root, "libs/platform/src/common-config.ts"),
    ...["router", "prefill", "decode", "kvstore"].map((s) => join(root, `services/${s}/src/config.ts`)),
  ];
  const names = new Set<string>();
  for (const f of files) for (const m of readFileSync(f, "utf8").matchAll(/"((?:KVTIER|REDIS|NATS|OTEL)_[A-Z0-9_]+)"/g)) names.add(m[1]);
  return names;
}

function configMapKeys(): string[] {
  const doc = parseAllDocuments(readFileSync(join(k8s, "config.yaml"), "utf8")).map(
    (d) => d.toJS() as { kind: string; data?: object; stringData?: object },
  );
  return doc.flatMap((d) => Object.keys(d.data ?? d.stringData ?? {}));
}

describe("deploy/k8s", () => {
  it("sets only variables the services read", () => {
    const read = variablesRead();
    const set = [...containers().flatMap((c) => (c.env ?? []).map((e) => e.name)), ...configMapKeys()].filter(
      (n) => !COMPOSITION_VARS.has(n),
    );
    expect(set.length).toBeGreaterThan(10);
    expect(set.filter((n) => !read.has(n))).toEqual([]);
  });

  it("runs services that exist", () => {
    const entries = containers().map((c) => c.args?.[0] ?? "");
    expect(entries.length).toBe(4);
    for (const e of entries) expect(existsSync(join(root, e.replace("/dist/", "/src/").replace(/\.js$/, ".ts")))).toBe(true);
  });
});
