// What every kvtier gRPC server checks before a handler sees a call, in one server interceptor:
// the service credential on internal servers, requests that do not parse (INVALID_ARGUMENT, where
// grpc-js itself would answer INTERNAL), and each call's final status reported exactly once
// (cancelled calls and refused ones included), so request counters miss nothing.
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type ServerInterceptor,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { messageOf } from "./errors.js";
import { SERVICE_TOKEN_HEADER, type ServiceToken } from "./service-token.js";

/** What a server's guard checks and reports. */
export interface GrpcServerGuard {
  /**
   * The deployment's service credential, required on every call (internal servers: kvstore,
   * workers). @default none: the service authenticates its callers itself (the router's API keys)
   */
  serviceToken?: ServiceToken;
  /**
   * Told each call's final status once, by name ("OK", "INVALID_ARGUMENT", ...): the status sent,
   * or CANCELLED when the caller went away first. @default ignored
   */
  onCallEnd?: (method: string, code: string) => void;
}

/** Stands in for a request message that did not deserialize; the guard answers it INVALID_ARGUMENT. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** `definition` with deserializers that never throw: a message that does not parse becomes a {@link MalformedRequest}. */
function tolerantDefinition<T extends ServiceDefinition>(definition: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const parse = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return parse(bytes);
        } catch (err) {
          return new MalformedRequest(messageOf(err));
        }
      },
    };
  }
  return out as T;
}

/** The name of a numeric gRPC status ("OK", "CANCELLED", ...). */
const statusName = (code: number): string => (status[code] as string | undefined) ?? "UNKNOWN";

/** The short method name of a path ("/kvtier.v1.KvTierService/Generate" -> "Generate"). */
const methodName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

/** The server interceptor enforcing `guard` (see the module header). */
export function guardInterceptor(guard: GrpcServerGuard): ServerInterceptor {
  return (descriptor, call) => {
    const method = methodName(descriptor.path);
    let ended = false;
    const end = (code: string): void => {
      if (ended) return;
      ended = true;
      guard.onCallEnd?.(method, code);
    };
    // a status sent from here goes straight to the call, past the responder below: report it too
    const refuse = (code: status, details: string): void => {
      end(statusName(code));
      call.sendStatus({ code, details });
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (guard.serviceToken && !guard.serviceToken.verify(metadata.get(SERVICE_TOKEN_HEADER)[0])) {
          refuse(
            status.UNAUTHENTICATED,
            `${SERVICE_TOKEN_HEADER}: missing or wrong service credential (internal endpoints serve only this deployment's services)`,
          );
          return;
        }
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        if (message instanceof MalformedRequest) {
          refuse(status.INVALID_ARGUMENT, `request: not a valid ${method} request message (${message.reason})`);
          return;
        }
        next(message);
      })
      .withOnCancel(() => end("CANCELLED"))
      .build();
    const responder = new ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((st, next) => {
        end(statusName(st.code ?? status.UNKNOWN));
        next(st);
      })
      .build();
    return new ServerInterceptingCall(call, responder);
  };
}

/** Add a service whose requests are parsed tolerantly (see {@link tolerantDefinition}); use with a guarded server. */
export function addGuardedService<T extends ServiceDefinition>(
  server: { addService(def: ServiceDefinition, impl: UntypedServiceImplementation): void },
  definition: T,
  implementation: UntypedServiceImplementation,
): void {
  server.addService(tolerantDefinition(definition), implementation);
}
