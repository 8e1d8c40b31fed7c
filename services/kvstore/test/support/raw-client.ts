// A bare generated gRPC client, to send what KvStoreClient never would (bad headers, odd chunks).
import { Metadata, credentials, status, type ServiceError } from "@grpc/grpc-js";
import { internalClientOptions, type ServiceToken } from "@kvtier/platform";
import { KvStoreServiceClient, PutHeader, type GetResponse, type PutRequest } from "@kvtier/proto";

export { KvStoreServiceClient };

/** A generated client with the project's channel options, presenting the store's service credential. */
export const rawClient = (store: { endpoint: string; token: ServiceToken }): KvStoreServiceClient =>
  new KvStoreServiceClient(store.endpoint, credentials.createInsecure(), internalClientOptions(store.token));

/** How a call ended. */
export interface CallOutcome {
  code: number;
  details: string;
  field: string | undefined;
  created?: boolean;
}

const outcomeOf = (err: ServiceError): CallOutcome => ({
  code: err.code,
  details: err.details,
  field: err.metadata?.get("kvtier-field")[0]?.toString(),
});

/** Send `msgs` as one Put stream and report its status (code OK with `created` on success). */
export function rawPut(client: KvStoreServiceClient, msgs: PutRequest[]): Promise<CallOutcome> {
  return new Promise((resolve) => {
    const call = client.put(new Metadata(), { deadline: Date.now() + 20_000 }, (err, res) =>
      resolve(err ? outcomeOf(err) : { code: status.OK, details: "", field: undefined, created: res.created }),
    );
    for (const m of msgs) call.write(m);
    call.end();
  });
}

/** Every message of a Get stream, or its error status. */
export function rawGet(
  client: KvStoreServiceClient,
  hashes: Uint8Array[],
  codec: string,
  leaseId = "",
  leaseTtlMs?: number,
): Promise<{ msgs: GetResponse[]; error?: CallOutcome }> {
  return new Promise((resolve) => {
    const msgs: GetResponse[] = [];
    const call = client.get({ blockHashes: hashes, codec, leaseId, leaseTtlMs }, { deadline: Date.now() + 20_000 });
    call.on("data", (m: GetResponse) => msgs.push(m));
    call.on("error", (err: ServiceError) => resolve({ msgs, error: outcomeOf(err) }));
    call.on("end", () => setImmediate(() => resolve({ msgs })));
  });
}

/** A Put stream for `block` as KvStoreClient would send it, with overrides of the header. */
export function putMessages(
  block: Uint8Array,
  header: { blockHash: Uint8Array; codec: string; totalBytes?: number; ack?: number; parentHash?: Uint8Array },
  chunkBytes = 1024 * 1024,
): PutRequest[] {
  const msgs: PutRequest[] = [{ part: { $case: "header", value: PutHeader.fromPartial({ totalBytes: block.length, ...header }) } }];
  for (let at = 0; at < block.length; at += chunkBytes) msgs.push({ part: { $case: "chunk", value: block.subarray(at, at + chunkBytes) } });
  return msgs;
}
