/**
 * What the cluster benchmarks share: running an operation N times with K in flight and reporting
 * operations per second, p50 and p99; a process's resident memory; the load average.
 *
 * @module
 */

/** One measured run. */
export interface Measured {
  readonly op: string;
  readonly inFlight: number;
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * Runs `op(0)` … `op(total - 1)` with `inFlight` of them in flight at once.
 *
 * @param what The operation's name, for the report.
 * @param inFlight How many at once.
 * @param total How many in all.
 * @param op The operation.
 * @returns Operations per second and latencies.
 */
export async function measure(
  what: string,
  inFlight: number,
  total: number,
  op: (i: number) => Promise<unknown>,
): Promise<Measured> {
  console.error(`${what}: ${total} with ${inFlight} in flight…`);
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      await op(i);
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
  const ms = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    op: what,
    inFlight,
    ops: total,
    opsPerSecond: Math.round(total / (ms / 1000)),
    p50Ms: +percentile(latencies, 0.5).toFixed(3),
    p99Ms: +percentile(latencies, 0.99).toFixed(3),
  };
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat's times. */
const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, all threads) a process used so far: robust to the machine's other
 * load, which inflates latencies but not this.
 *
 * @param pid The process, or `"self"`.
 * @returns Its CPU time in µs (a multiple of 10 ms).
 */
export function cpuUs(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1e6 / CLOCK_TICKS_PER_SECOND;
}

/**
 * Minor page faults a process took so far (all threads): each maps a fresh page, zeroed by the
 * kernel, so memory handed back to the system and taken again shows here.
 *
 * @param pid The process, or `"self"`.
 * @returns The count.
 */
export function minorFaults(pid: number | "self"): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[7]);
}

/**
 * A process's resident memory.
 *
 * @param pid The process.
 * @returns Its RSS in MB (one decimal).
 */
export function rssMb(pid: number): number {
  return rssKindsMb(pid).rss;
}

/**
 * A process's resident memory by kind: `anon` is its own (heaps, buffers, stacks), `file` the
 * pages of files it maps (the `deno` binary and libraries, shared with every process mapping them).
 *
 * @param pid The process.
 * @returns RSS, anonymous and file-backed RSS in MB (one decimal).
 */
export function rssKindsMb(pid: number): { rss: number; anon: number; file: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const mb = (field: string) =>
    +(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024).toFixed(1);
  return { rss: mb("VmRSS"), anon: mb("RssAnon"), file: mb("RssFile") };
}

/**
 * The machine's load average over 1, 5 and 15 minutes (`null` where `/proc` is missing).
 *
 * @returns The three figures.
 */
export function loadAverage(): number[] | null {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return null;
  }
}
