/**
 * How a member process should be started to keep its memory small: flags for `deno run` and
 * environment variables for the C allocator. A process cannot change these for itself once it
 * runs (V8 sizes its heap at start; glibc reads its tunables at start), so whatever spawns a
 * member applies them: `synod local-cluster`, the process tests' harness and the cluster
 * benchmark do, and the README gives the command line for `synod agent`.
 *
 * Measured on a member holding a 100k-entry map (bench/cluster_bench.ts, see the README):
 * - V8's young generation grows to 64 MB under a steady load of short-lived objects and stays
 *   there, empty between scavenges. `--max-semi-space-size=2` caps it at 4 MB.
 * - glibc keeps the memory freed by the main thread's arena, and grows its mmap threshold to the
 *   largest buffer freed so far, so buffers up to 32 MB come from the heap and their holes stay
 *   resident. Fixed thresholds (`MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_`) hand large
 *   buffers back at once and trim the heap's top; `MALLOC_ARENA_MAX=2` bounds the arenas of
 *   the runtime's I/O threads.
 *
 * Neither costs measurable CPU per operation. Two V8 flags that shrink a loaded member further
 * do, and are left out: `--heap-growing-percent=25` (a full collection sooner: −20 MB, +20–30 %
 * CPU per put) and `--optimize-for-size` (−30 MB, twice the CPU per put). Flags that keep V8's
 * collector and compiler off its worker threads (`--single-threaded-gc`, `--single-threaded`,
 * `--no-concurrent-marking --no-parallel-scavenge --no-concurrent-sweeping`) were measured too (3–4
 * runs each of `deno task bench:cluster --member-v8-flags=…`, puts at 256 in flight, on a shared
 * 2-core machine): none lowered the CPU per put beyond the runs' spread (±25 %), nor in an
 * in-process benchmark of the apply path, and `--single-threaded` adds 20–30 MB per member. They
 * are left out.
 *
 * @module
 */

/** Flags for `deno run` of a member (before the program). */
export const MEMBER_RUNTIME_ARGS: readonly string[] = ["--v8-flags=--max-semi-space-size=2"];

/** Environment variables for a member process (glibc's malloc tunables). */
export const MEMBER_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: String(64 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(1024 * 1024),
};

/**
 * `deno run` flags for a member: {@linkcode MEMBER_RUNTIME_ARGS}, unless `extra` sets V8 flags of
 * its own (then those replace them, `deno run` taking one `--v8-flags`), then `extra`.
 *
 * @param extra The caller's flags (e.g. `--cpu-prof`).
 * @returns The flags.
 */
export function memberRuntimeArgs(extra: readonly string[] = []): string[] {
  const ownV8Flags = extra.some((a) => a.startsWith("--v8-flags"));
  return [...(ownV8Flags ? [] : MEMBER_RUNTIME_ARGS), ...extra];
}
