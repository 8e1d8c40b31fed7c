// CPU time spent by the processes on each side of a figure, per GiB moved: on a shared, loaded
// machine wall-clock throughput swings with the neighbours, CPU seconds per GiB much less.
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) used so far by `pid`, or by this process when undefined; null when unknown. */
function cpuSeconds(pid?: number): number | null {
  if (pid === undefined) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return null;
  }
}

/** Measures CPU seconds of this process and a peer process over a timed stretch. */
export class CpuMeter {
  private start: [number | null, number | null] = [null, null];

  constructor(private readonly peerPid: number | undefined) {}

  begin(): void {
    this.start = [cpuSeconds(), cpuSeconds(this.peerPid)];
  }

  /** CPU seconds since begin(): this process ("client") and the peer ("server"); null when unknown. */
  seconds(): { client: number | null; server: number | null } {
    const since = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : b - a);
    return { client: since(this.start[0], cpuSeconds()), server: since(this.start[1], cpuSeconds(this.peerPid)) };
  }
}
