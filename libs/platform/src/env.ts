// Environment readers for the services' config modules: the only place `process.env` is read.
// A blank value counts as unset; a malformed one throws a ConfigError naming the variable.

/** A configuration value that cannot be used, naming the environment variable. */
export class ConfigError extends Error {
  readonly code = "CONFIG";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === "" ? undefined : v.trim();
}

/** A string, or `fallback` when unset. */
export function envString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

/** An optional string. */
export function envOptional(env: Env, name: string): string | undefined {
  return raw(env, name);
}

/** An integer within [min, max], or `fallback` when unset. */
export function envInt(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = raw(env, name);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(name, `expected an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(name, `must be within [${min}, ${max}], got ${n}`);
  return n;
}

/** A boolean (`1/true/yes/on` or `0/false/no/off`), or `fallback` when unset. */
export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const v = raw(env, name)?.toLowerCase();
  if (v === undefined) return fallback;
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ConfigError(name, `expected a boolean, got "${v}"`);
}

/** An identifier usable in Redis keys, queue names and NATS subject tokens. */
export function envId(env: Env, name: string, fallback: string): string {
  const v = envString(env, name, fallback);
  if (!ID_PATTERN.test(v)) throw new ConfigError(name, `must match ${ID_PATTERN}, got "${v}"`);
  return v;
}

/** Ids travel in NATS subjects and BullMQ queue names: no dots, colons, spaces or wildcards. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
