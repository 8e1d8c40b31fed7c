// OpenTelemetry tracing: one request is one trace across every hop. The W3C traceparent travels
// in gRPC metadata, in the request plan (gRPC message and BullMQ job data) and in NATS headers.
// Spans go to an OTLP/HTTP collector when one is configured, and/or to JSON-lines files.
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { ExportResultCode, W3CTraceContextPropagator, hrTimeToMilliseconds, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { messageOf } from "./errors.js";

/** Where spans go. Both unset = tracing is a no-op (spans are not recorded). */
export interface TracingConfig {
  /** OTLP/HTTP traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces). */
  otlpEndpoint: string | undefined;
  /** KVTIER_TRACE_DIR: each process appends its spans as JSON lines to `<dir>/<service>-<pid>.jsonl`. */
  traceDir: string | undefined;
}

const propagator = new W3CTraceContextPropagator();

/** Writes finished spans as JSON lines (debugging, and tests that follow a trace across processes). */
class JsonLinesSpanExporter implements SpanExporter {
  constructor(
    private readonly file: string,
    private readonly service: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    try {
      const lines = spans.map((s) =>
        JSON.stringify({
          service: this.service,
          name: s.name,
          traceId: s.spanContext().traceId,
          spanId: s.spanContext().spanId,
          parentSpanId: s.parentSpanContext?.spanId,
          startMs: hrTimeToMilliseconds(s.startTime),
          durationMs: hrTimeToMilliseconds(s.duration),
          status: s.status.code,
          attributes: s.attributes,
        }),
      );
      appendFileSync(this.file, lines.join("\n") + "\n");
      done({ code: ExportResultCode.SUCCESS });
    } catch (err) {
      done({ code: ExportResultCode.FAILED, error: err instanceof Error ? err : new Error(messageOf(err)) });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A service's tracer provider. `shutdown()` flushes; idempotent. */
export class Tracing {
  private closed = false;
  private constructor(
    readonly tracer: Tracer,
    private readonly provider: NodeTracerProvider | undefined,
  ) {}

  static start(service: string, cfg: TracingConfig): Tracing {
    const processors: SpanProcessor[] = [];
    if (cfg.otlpEndpoint) processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: cfg.otlpEndpoint })));
    if (cfg.traceDir) {
      mkdirSync(cfg.traceDir, { recursive: true });
      processors.push(new SimpleSpanProcessor(new JsonLinesSpanExporter(join(cfg.traceDir, `${service}-${process.pid}.jsonl`), service)));
    }
    if (processors.length === 0) return new Tracing(trace.getTracer(service), undefined);
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ "service.name": `kvtier-${service}` }),
      spanProcessors: processors,
    });
    provider.register({ propagator });
    return new Tracing(provider.getTracer(`kvtier-${service}`), provider);
  }

  async shutdown(): Promise<void> {
    if (this.closed || !this.provider) return;
    this.closed = true;
    await this.provider.shutdown();
  }
}

/** The W3C traceparent of a span (empty when it is not recorded). */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier.traceparent ?? "";
}

/** The context a traceparent names (the root context for an empty or malformed one). */
function contextOf(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
}

/** Start a span under the context of `traceparent`. */
export function startSpan(
  tracer: Tracer,
  name: string,
  traceparent: string | undefined,
  attributes: Record<string, string | number | boolean> = {},
): Span {
  return tracer.startSpan(name, { attributes }, contextOf(traceparent));
}

/** End a span with an error status (or OK when `err` is undefined). */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.recordException(err instanceof Error ? err : new Error(messageOf(err)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: messageOf(err) });
  }
  span.end();
}
