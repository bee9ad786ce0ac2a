/**
 * Leadership balance across a node's partitions. Elections pick whichever member times out
 * first, so the leaders of a node's partitions often gather on one member, which then does most
 * of the work (a leader decodes the clients' requests, encodes the entries, answers the clients)
 * while the others replicate. Each partition has a *preferred leader* — the first member of its
 * placement, which placement rotates over the members — and a leader that is not it hands
 * leadership to it (Raft thesis §3.10, `transferLeadership`) once it is safe and useful to:
 *
 * - this member has led the current term for at least `waitTicks` ticks, so a group just
 *   elected (or just handed over) settles first;
 * - the preferred member is a voter, heard from within the last election timeout
 *   (`recentActive`), and at most {@linkcode LEADER_BALANCE_LAG_ENTRIES} entries behind: a
 *   transfer to a member that is down or far behind would only stall proposals for an election
 *   timeout;
 * - no transfer is under way.
 *
 * Every attempt doubles the wait before the next one (up to `8 × waitTicks`), so a preferred
 * member that keeps failing (a flapping link) costs at most an occasional short stall. The rule
 * sees only the core's status and counts ticks: it is deterministic under the simulator.
 *
 * @module
 */

import { isVoterType } from "../raft/membership.ts";
import type { RaftStatus } from "../raft/raft.ts";
import type { NodeId } from "../raft/types.ts";

/** How far behind the last index the preferred member may be for a transfer to start. */
export const LEADER_BALANCE_LAG_ENTRIES = 1000;

/** Default ticks a leader waits before handing leadership to the preferred member. */
export const LEADER_BALANCE_WAIT_TICKS = 50;

/** When a leader hands its group's leadership to the group's preferred leader. */
export class LeaderBalance {
  /** The member this group's leadership should go to. */
  readonly preferred: NodeId;
  readonly #baseWaitTicks: number;
  #waitTicks: number;
  #ledTicks = 0;
  #term = -1;

  /**
   * Creates the rule for one member of a group.
   *
   * @param preferred The group's preferred leader.
   * @param waitTicks Ticks a leader waits before its first transfer (doubling after each).
   * @throws {RangeError} If `waitTicks` is not a positive integer.
   */
  constructor(preferred: NodeId, waitTicks = LEADER_BALANCE_WAIT_TICKS) {
    if (!Number.isSafeInteger(waitTicks) || waitTicks < 1) {
      throw new RangeError(
        `Cannot balance leaders as 'waitTicks' must be a positive integer: current value is ${waitTicks}`,
      );
    }
    this.preferred = preferred;
    this.#baseWaitTicks = waitTicks;
    this.#waitTicks = waitTicks;
  }

  /** Ticks the next transfer waits for (after leading that long). */
  get waitTicks(): number {
    return this.#waitTicks;
  }

  /**
   * Counts one tick; says whether to hand leadership over now.
   *
   * @param role The member's role now.
   * @param term The current term.
   * @param status Read only when a transfer is due (it copies the core's progress).
   * @returns The member to transfer leadership to, or `null`.
   */
  tick(role: string, term: number, status: () => RaftStatus): NodeId | null {
    if (role !== "leader" || term !== this.#term) {
      this.#ledTicks = 0;
      this.#term = role === "leader" ? term : -1;
      if (role !== "leader") return null;
    }
    if (++this.#ledTicks < this.#waitTicks) return null;
    const s = status();
    if (s.id === this.preferred || s.leadTransferee !== null) return null;
    const member = s.membership.members.find((m) => m.id === this.preferred);
    if (member === undefined || !isVoterType(member.type)) return null;
    const pr = s.progress[this.preferred];
    if (pr === undefined || !pr.recentActive) return null;
    if (pr.match + LEADER_BALANCE_LAG_ENTRIES < s.lastIndex) return null;
    this.#ledTicks = 0;
    this.#waitTicks = Math.min(this.#waitTicks * 2, this.#baseWaitTicks * 8);
    return this.preferred;
  }
}
