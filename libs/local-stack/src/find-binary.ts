// Locating the server binaries the stack needs, with the exact install command when one is missing.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { LocalStackError } from "./local-stack-error.js";

/**
 * Directories searched after PATH. Debian installs nats-server in /usr/sbin, which is not on a
 * non-root user's PATH.
 */
const SYSTEM_BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The absolute path of executable `name`, or undefined when it is not installed. */
export function findBinary(name: string, path = process.env["PATH"] ?? ""): string | undefined {
  const dirs = [...path.split(delimiter).filter((d) => d !== ""), ...SYSTEM_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** The path of `name`, or a MISSING_BINARY error saying exactly which package to install. */
export function requireBinary(name: string, debianPackage: string): string {
  const found = findBinary(name);
  if (found !== undefined) return found;
  throw new LocalStackError("MISSING_BINARY", `${name} is not installed; install it with: apt-get install -y ${debianPackage}`, {
    process: name,
  });
}
