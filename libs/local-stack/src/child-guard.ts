// Orphan guard: every child the launcher spawns is registered here and killed (SIGKILL, whole
// process group) when the parent process exits, whatever the path to that exit. A parent that dies
// by an unhandled signal never runs 'exit' handlers, so programs using the launcher (the CLI)
// handle SIGINT/SIGTERM themselves and stop their stack.
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let installed = false;

/** Send `signal` to a child's process group (children are spawned detached, so they lead one). */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is gone already (or was never formed); fall back to the process itself.
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  }
}

/** Kill `child` (and its process group) if this process exits while the child still runs. */
export function guardChild(child: ChildProcess): void {
  if (!installed) {
    installed = true;
    process.on("exit", () => {
      for (const c of live) signalGroup(c, "SIGKILL");
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

/** SIGTERM the child's group, SIGKILL it after `graceMs`; resolves when `exited` does. */
export async function terminateGroup(child: ChildProcess, exited: Promise<unknown>, graceMs: number): Promise<void> {
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), graceMs);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
