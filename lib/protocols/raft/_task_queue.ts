/**
 * The tasks services scheduled on log time (copycat-spec §5.3), kept sorted by (due time, id) so
 * that every member runs them in the same order. Private to this folder.
 *
 * @module
 */

import type { Task } from "./_state.ts";

/** Scheduled tasks, sorted by (`dueMs`, `id`). */
export class TaskQueue {
  #tasks: Task[] = [];

  /** How many tasks are scheduled. */
  get size(): number {
    return this.#tasks.length;
  }

  /** The tasks in order (for a snapshot; not to be changed). */
  get all(): Task[] {
    return this.#tasks;
  }

  /** Replaces every task with `tasks` (from a snapshot, already in order). */
  reset(tasks: Task[]): void {
    this.#tasks = tasks;
  }

  /** Adds a task in its place. */
  insert(task: Task): void {
    let lo = 0;
    let hi = this.#tasks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.#tasks[mid]!;
      if (m.dueMs < task.dueMs || (m.dueMs === task.dueMs && m.id < task.id)) lo = mid + 1;
      else hi = mid;
    }
    this.#tasks.splice(lo, 0, task);
  }

  /** Removes and returns the first task if it is due strictly before `t`. */
  takeDue(t: number): Task | undefined {
    if (this.#tasks.length > 0 && this.#tasks[0]!.dueMs < t) return this.#tasks.shift()!;
    return undefined;
  }

  /**
   * Cancels task `taskId` of `service`.
   *
   * @returns Whether it was scheduled.
   */
  cancel(service: string, taskId: number): boolean {
    const i = this.#tasks.findIndex((t) => t.id === taskId && t.service === service);
    if (i < 0) return false;
    this.#tasks.splice(i, 1);
    return true;
  }

  /** Drops every task of the services named. */
  dropServices(services: ReadonlySet<string>): void {
    this.#tasks = this.#tasks.filter((t) => !services.has(t.service));
  }
}
