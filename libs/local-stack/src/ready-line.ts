// The ready line of the service contract: one JSON object on stdout,
// `{"event":"ready","service":"<name>","id":"...","port":N,"metricsPort":M,...}`.

/** What a service announced when it started serving. */
export interface ReadyLine {
  /** The whole object as printed. */
  fields: Record<string, unknown>;
  service?: string;
  id?: string;
  port?: number;
  metricsPort?: number;
  /** Host of the gRPC port, when the service says. */
  host?: string;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const port = (v: unknown): number | undefined => (typeof v === "number" && Number.isInteger(v) && v > 0 && v <= 65_535 ? v : undefined);

/** The ready line in `line`, or undefined when the line is anything else (a stray print, a log). */
export function parseReadyLine(line: string): ReadyLine | undefined {
  const text = line.trim();
  if (!text.startsWith("{")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || parsed["event"] !== "ready") return undefined;
  return {
    fields: parsed,
    service: str(parsed["service"]),
    id: str(parsed["id"]),
    port: port(parsed["port"]),
    metricsPort: port(parsed["metricsPort"]),
    host: str(parsed["host"]),
  };
}
