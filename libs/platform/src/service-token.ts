// The deployment's service credential: one secret every kvtier service of a deployment holds
// (KVTIER_SERVICE_TOKEN), presented on every internal call (kvstore gRPC and fast port, worker
// gRPC, debug pages) and checked in constant time. A client API key never opens these.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { InterceptingCall, type Interceptor } from "@grpc/grpc-js";

/** gRPC metadata key (and HTTP header) carrying the service credential. */
export const SERVICE_TOKEN_HEADER = "kvtier-service-token";
/** Shortest accepted token, in characters (a generated one is 43: 32 random bytes, base64url). */
export const MIN_SERVICE_TOKEN_CHARS = 32;
/** Longest accepted token, in characters (it travels in every call's metadata). */
export const MAX_SERVICE_TOKEN_CHARS = 512;
/** Random bytes in a generated token. */
const GENERATED_TOKEN_BYTES = 32;

const digestOf = (s: string): Buffer => createHash("sha256").update(s, "utf8").digest();

/** A service credential: presents itself and verifies what a caller presented. */
export class ServiceToken {
  private readonly digest: Buffer;

  /** Throws RangeError when `value` is shorter than MIN_SERVICE_TOKEN_CHARS or longer than the maximum. */
  constructor(readonly value: string) {
    if (value.length < MIN_SERVICE_TOKEN_CHARS || value.length > MAX_SERVICE_TOKEN_CHARS) {
      throw new RangeError(`a service token has ${MIN_SERVICE_TOKEN_CHARS}-${MAX_SERVICE_TOKEN_CHARS} characters, got ${value.length}`);
    }
    this.digest = digestOf(value);
  }

  /** A fresh random token (what `kvtier up` and the Kubernetes package generate per deployment). */
  static generate(): ServiceToken {
    return new ServiceToken(randomBytes(GENERATED_TOKEN_BYTES).toString("base64url"));
  }

  /** Whether `presented` is this token. Compares digests in constant time, so timing says nothing of the secret. */
  verify(presented: unknown): boolean {
    if (typeof presented !== "string" && !(presented instanceof Uint8Array)) return false;
    const text = typeof presented === "string" ? presented : Buffer.from(presented).toString("utf8");
    if (text.length > MAX_SERVICE_TOKEN_CHARS) return false;
    return timingSafeEqual(digestOf(text), this.digest);
  }

  /** The token's bytes, as the fast port's AUTH frame carries them. */
  bytes(): Uint8Array {
    return Buffer.from(this.value, "utf8");
  }

  /** A grpc-js client interceptor that presents this token on every call. */
  interceptor(): Interceptor {
    return (options, nextCall) =>
      new InterceptingCall(nextCall(options), {
        start: (metadata, listener, next) => {
          metadata.set(SERVICE_TOKEN_HEADER, this.value);
          next(metadata, listener);
        },
      });
  }

  /** Never print the secret. */
  toJSON(): string {
    return "<service token>";
  }
}
