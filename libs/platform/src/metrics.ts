// Prometheus metrics: one registry per service process, served on GET /metrics, beside which a
// service may mount read-only diagnostic routes (e.g. the router's GET /debug/index).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";

/** What a diagnostic route answers. */
export interface HttpRouteResponse {
  /** @default 200 */
  status?: number;
  contentType: string;
  body: string;
}

/** A diagnostic GET route: gets the request URL (path and query), answers a body. */
export type HttpRouteHandler = (url: URL) => HttpRouteResponse | Promise<HttpRouteResponse>;

/** A service's metrics registry and the HTTP server exposing it. */
export class MetricsEndpoint {
  readonly registry = new Registry();
  private server: Server | undefined;
  private readonly routes = new Map<string, HttpRouteHandler>();

  constructor(service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
  }

  /** Listen on `port` (0 = ephemeral); resolves to the bound port. */
  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://localhost");
      const route = req.method === "GET" ? this.routes.get(url.pathname) : undefined;
      if (route !== undefined) {
        Promise.resolve()
          .then(() => route(url))
          .then((r) => res.writeHead(r.status ?? 200, { "content-type": r.contentType }).end(r.body))
          .catch((err: unknown) => res.writeHead(500).end(String(err)));
        return;
      }
      if (req.url !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      this.registry
        .metrics()
        .then((body) => res.writeHead(200, { "content-type": this.registry.contentType }).end(body))
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /** Serve `handler` on GET `path` (e.g. "/debug/index"); call before or after listen. */
  route(path: string, handler: HttpRouteHandler): void {
    this.routes.set(path, handler);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
