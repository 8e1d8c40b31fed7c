// Command-line parsing on node:util parseArgs, with every failure turned into a UsageError that
// names the flag, and typed converters for flag values.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./usage-error.js";

/** Options declaration accepted by {@link parseCommandLine}. */
export type FlagSpec = NonNullable<ParseArgsConfig["options"]>;

/** Flag values by flag name (string for valued flags, string[] for repeated ones, boolean for switches). */
export type FlagValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A parsed command line: flag values by name and the positional arguments. */
export interface ParsedCommandLine {
  values: FlagValues;
  positionals: string[];
}

/** Parse `argv` strictly against `options`; unknown or malformed flags throw a UsageError. */
export function parseCommandLine(argv: string[], options: FlagSpec): ParsedCommandLine {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: values as FlagValues, positionals };
  } catch (err) {
    throw toUsageError(err);
  }
}

/** node:util parseArgs errors carry a code and the flag inside quotes in the message. */
function toUsageError(err: unknown): unknown {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const flag = /'(-{1,2}[^' =]+)/.exec(message)?.[1] ?? "arguments";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(flag, "unknown flag (see --help)");
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(message)) return new UsageError(flag, "takes no value");
      if (/ambiguous/.test(message)) return new UsageError(flag, `expected a value (write ${flag}=VALUE for a value starting with "-")`);
      return new UsageError(flag, "expected a value");
    default:
      return err;
  }
}

/** The single valued flag `name`, or undefined when absent. */
export function flagString(values: FlagValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** A whole number in [min, max]. */
export function intFlag(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const what =
      min === 1 && max === Number.MAX_SAFE_INTEGER
        ? "a positive integer"
        : min === 0 && max === Number.MAX_SAFE_INTEGER
          ? "a non-negative integer"
          : `an integer in [${min}, ${max}]`;
    throw new UsageError(flag, `expected ${what}, got "${raw}"`);
  }
  return n;
}

/** A finite number in [min, max] (or (min, max] when `minExclusive`). */
export function numberFlag(flag: string, raw: string, min: number, max: number, minExclusive = false): number {
  const n = raw.trim() === "" ? NaN : Number(raw);
  if (!Number.isFinite(n) || n < min || n > max || (minExclusive && n === min)) {
    throw new UsageError(flag, `expected a number in ${minExclusive ? "(" : "["}${min}, ${max}], got "${raw}"`);
  }
  return n;
}

/** A `host:port` address. */
export function hostPortFlag(flag: string, raw: string): string {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65_535) throw new UsageError(flag, `expected HOST:PORT, got "${raw}"`);
  return raw.trim();
}

/** Exactly one positional argument, named `name` in messages (e.g. "<prompt>"). */
export function onePositional(positionals: string[], name: string): string {
  if (positionals.length === 0) throw new UsageError(name, "required");
  if (positionals.length > 1) throw new UsageError(name, `expected one argument, got ${positionals.length} (quote it: "...")`);
  return positionals[0];
}

/** The value of environment variable `name`; blank counts as unset. */
export function envValue(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}
