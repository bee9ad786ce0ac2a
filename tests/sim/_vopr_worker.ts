/**
 * A campaign worker for `vopr.ts`: runs every `stride`-th seed of a range and reports each
 * result to the main thread.
 *
 * @module
 */

import {
  runSimulation,
  SimulationError,
  type SimulationOptions,
} from "../../lib/testing/sim/mod.ts";

/** What the main thread asks a worker to run. */
export interface CampaignRequest {
  /** First seed. */
  readonly lo: number;
  /** Last seed (inclusive). */
  readonly hi: number;
  /** Step between seeds. */
  readonly stride: number;
  /** Profile name or `"auto"`. */
  readonly profile: string;
  /** Fault-phase ticks, if not the default. */
  readonly ticks?: number;
  /** Initial group size, if not drawn from the seed. */
  readonly nodes?: number;
  /** Whether to run the liveness phase. */
  readonly liveness: boolean;
}

/** One report from a worker. */
export type CampaignResult =
  | { readonly kind: "ok"; readonly seed: number }
  | { readonly kind: "fail"; readonly seed: number; readonly message: string }
  | { readonly kind: "end" };

/** Runs the seeds of a request, posting a result for each. */
function run(request: CampaignRequest, post: (r: CampaignResult) => void): void {
  for (let seed = request.lo; seed <= request.hi; seed += request.stride) {
    const options: SimulationOptions = {
      seed,
      profile: request.profile as SimulationOptions["profile"],
      ticks: request.ticks,
      nodes: request.nodes,
      liveness: request.liveness,
    };
    try {
      runSimulation(options);
      post({ kind: "ok", seed });
    } catch (error) {
      const message = error instanceof SimulationError
        ? error.message
        : `seed ${seed}: ${(error as Error)?.stack ?? error}`;
      post({ kind: "fail", seed, message });
    }
  }
  post({ kind: "end" });
}

// Only when loaded as a worker: `self` is then a DedicatedWorkerGlobalScope.
if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined") {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<CampaignRequest>) => void) | null;
    postMessage(r: CampaignResult): void;
  };
  scope.onmessage = (e) => run(e.data, (r) => scope.postMessage(r));
}
