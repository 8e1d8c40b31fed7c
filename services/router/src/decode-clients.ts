// gRPC clients of the decode workers, one per endpoint, created on first use; each call presents
// the deployment's service credential.
import { DecodeWorkerServiceClient } from "@kvtier/proto";
import { insecureCredentials, internalClientOptions, type ServiceToken } from "@kvtier/platform";

export class DecodeClients {
  private readonly clients = new Map<string, DecodeWorkerServiceClient>();

  constructor(private readonly serviceToken: ServiceToken) {}

  get(endpoint: string): DecodeWorkerServiceClient {
    let c = this.clients.get(endpoint);
    if (!c) {
      c = new DecodeWorkerServiceClient(endpoint, insecureCredentials(), internalClientOptions(this.serviceToken));
      this.clients.set(endpoint, c);
    }
    return c;
  }

  /** Forget a worker's client (it went away; a new incarnation may reuse the endpoint). */
  drop(endpoint: string): void {
    this.clients.get(endpoint)?.close();
    this.clients.delete(endpoint);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
