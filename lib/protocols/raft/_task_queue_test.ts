import assert from "node:assert/strict";
import type { Task } from "./_state.ts";
import { TaskQueue } from "./_task_queue.ts";

function task(id: number, dueMs: number, service = "s"): Task {
  return { id, service, timer: "t", arg: null, dueMs, intervalMs: 0 };
}

Deno.test("task queue: tasks run in (due time, id) order, whatever the order they were added in", () => {
  const queue = new TaskQueue();
  for (const t of [task(3, 20), task(1, 20), task(2, 10), task(4, 5)]) queue.insert(t);
  assert.deepEqual(queue.all.map((t) => t.id), [4, 2, 1, 3]);
});

Deno.test("task queue: a task is due strictly before the given time", () => {
  const queue = new TaskQueue();
  queue.insert(task(1, 10));
  assert.equal(queue.takeDue(10), undefined);
  assert.equal(queue.takeDue(11)?.id, 1);
  assert.equal(queue.size, 0);
});

Deno.test("task queue: cancel names the service; dropping services drops their tasks", () => {
  const queue = new TaskQueue();
  queue.insert(task(1, 10, "a"));
  queue.insert(task(2, 10, "b"));
  queue.insert(task(3, 10, "c"));
  assert.equal(queue.cancel("b", 1), false);
  assert.equal(queue.cancel("a", 1), true);
  queue.dropServices(new Set(["b"]));
  assert.deepEqual(queue.all.map((t) => t.id), [3]);
});
