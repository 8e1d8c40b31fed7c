// Prometheus metrics: one registry per service process, served on GET /metrics, beside which a
// service may mount read-only diagnostic routes (e.g. the router's GET /debug/index), each open
// only to callers presenting the deployment's service token. The HTTP server bounds how long a
// request may take to arrive and how many connections it holds.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
import { SERVICE_TOKEN_HEADER, type ServiceToken } from "./service-token.js";

/** Time a client gets to send a request's headers, in ms. */
const HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** Time a client gets to send a whole request, in ms. */
const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this long, in ms. */
const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Connections the metrics port holds at once. */
const HTTP_MAX_CONNECTIONS = 256;

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
  private readonly routes = new Map<string, { handler: HttpRouteHandler; serviceToken: ServiceToken }>();

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
        if (!route.serviceToken.verify(req.headers[SERVICE_TOKEN_HEADER])) {
          res.writeHead(401, { "content-type": "text/plain" }).end(`${SERVICE_TOKEN_HEADER}: missing or wrong service credential\n`);
          return;
        }
        Promise.resolve()
          .then(() => route.handler(url))
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
    server.headersTimeout = HTTP_HEADERS_TIMEOUT_MS;
    server.requestTimeout = HTTP_REQUEST_TIMEOUT_MS;
    server.keepAliveTimeout = HTTP_KEEP_ALIVE_TIMEOUT_MS;
    server.maxConnections = HTTP_MAX_CONNECTIONS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  /**
   * Serve `handler` on GET `path` (e.g. "/debug/index") to callers whose `kvtier-service-token`
   * header is the service token (401 otherwise); call before or after listen.
   */
  route(path: string, handler: HttpRouteHandler, opts: { serviceToken: ServiceToken }): void {
    this.routes.set(path, { handler, serviceToken: opts.serviceToken });
  }

  /** Idempotent. */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
