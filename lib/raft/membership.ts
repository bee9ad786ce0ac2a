/**
 * Membership arithmetic: who votes, who is replicated, quorum sizes, and applying one
 * single-server change (Raft thesis §4.1) to a configuration.
 *
 * @module
 */

import { IllegalMemberStateError } from "../errors.ts";
import {
  type Member,
  type Membership,
  type MembershipChange,
  membershipOf,
  type MemberType,
  type NodeId,
} from "./types.ts";

/** Rank of each member type, higher = more involved. */
const RANK: Readonly<Record<MemberType, number>> = {
  reserve: 0,
  passive: 1,
  promotable: 2,
  active: 3,
};

/** Whether members of this type vote. */
export function isVoterType(type: MemberType): boolean {
  return type === "active";
}

/** Whether the leader replicates its log to members of this type. */
export function isReplicatedType(type: MemberType): boolean {
  return type !== "reserve";
}

/** The member with `id`, if any. */
export function findMember(membership: Membership, id: NodeId): Member | undefined {
  return membership.members.find((m) => m.id === id);
}

/** Ids of the voting members. */
export function voterIds(membership: Membership): NodeId[] {
  return membership.members.filter((m) => isVoterType(m.type)).map((m) => m.id);
}

/** Votes needed for a majority of `voters` voters. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest index that a majority of voters hold, given each voter's match index.
 * (Sorted descending, the quorum-th value.) 0 with no voters.
 */
export function majorityIndex(matches: readonly number[]): number {
  return majorityIndexSorting([...matches]);
}

/**
 * {@linkcode majorityIndex}, sorting `matches` itself (for a caller that reuses one array).
 *
 * @param matches One number per voter; left sorted from highest to lowest.
 * @returns The highest number a majority has reached (0 with no voters).
 */
export function majorityIndexSorting(matches: number[]): number {
  if (matches.length === 0) return 0;
  matches.sort(descending);
  return matches[quorumOf(matches.length) - 1]!;
}

function descending(a: number, b: number): number {
  return b - a;
}

function checkType(type: MemberType | undefined, what: string): void {
  if (type !== undefined && !(type in RANK)) {
    throw new TypeError(`Cannot ${what} as member type '${type}' is unknown`);
  }
}

/**
 * Applies one change to a configuration.
 *
 * @param membership The current configuration.
 * @param change The change: add (default type `active`), remove, promote (default `active`),
 *   demote (default `passive`).
 * @returns The new configuration.
 * @throws {IllegalMemberStateError} If the change makes no sense for the current configuration
 *   (adding a present member, removing an absent one, promoting to a lower type, leaving no voter).
 * @throws {TypeError} If the change names an unknown type or an empty id.
 */
export function applyMembershipChange(
  membership: Membership,
  change: MembershipChange,
): Membership {
  if (typeof change.id !== "string" || change.id.length === 0) {
    throw new TypeError("Cannot change membership as 'id' must be a non-empty string");
  }
  const current = findMember(membership, change.id);
  const others = membership.members.filter((m) => m.id !== change.id);
  let next: Member[];
  switch (change.kind) {
    case "add": {
      checkType(change.type, "add member");
      if (current !== undefined) {
        throw new IllegalMemberStateError(
          `Cannot add member '${change.id}' as it is already a ${current.type} member`,
        );
      }
      next = [...others, { id: change.id, type: change.type ?? "active" }];
      break;
    }
    case "remove": {
      if (current === undefined) {
        throw new IllegalMemberStateError(
          `Cannot remove member '${change.id}' as it is not a member`,
        );
      }
      next = others;
      break;
    }
    case "promote":
    case "demote": {
      const type = change.type ?? (change.kind === "promote" ? "active" : "passive");
      checkType(type, `${change.kind} member`);
      if (current === undefined) {
        throw new IllegalMemberStateError(
          `Cannot ${change.kind} member '${change.id}' as it is not a member`,
        );
      }
      const up = RANK[type] > RANK[current.type];
      const down = RANK[type] < RANK[current.type];
      if ((change.kind === "promote" && !up) || (change.kind === "demote" && !down)) {
        throw new IllegalMemberStateError(
          `Cannot ${change.kind} member '${change.id}' from ${current.type} to ${type}`,
        );
      }
      next = [...others, { id: change.id, type }];
      break;
    }
    default:
      throw new TypeError(
        `Cannot change membership as kind '${(change as { kind: string }).kind}' is unknown`,
      );
  }
  const result = membershipOf(next);
  if (voterIds(result).length === 0) {
    throw new IllegalMemberStateError(
      `Cannot ${change.kind} member '${change.id}' as the group would have no voting member`,
    );
  }
  return result;
}
