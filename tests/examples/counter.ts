import { defineService, InMemoryCluster, serviceRef } from "../../mod.ts";

interface Counter {
  commands: { add(by: number): number };
  queries: { get(): number };
}
const counter = (value = 0) =>
  defineService<Counter>({
    commands: { add: ({ args }) => (value += args) },
    queries: { get: () => value },
    snapshot: () => value,
    restore: (state) => void (value = state as number),
  });

const cluster = InMemoryCluster.start({ members: ["a", "b", "c"], services: { counter } });
const client = await cluster.connect();
const hits = serviceRef<Counter>("counter/hits");
console.log(await client.command(hits, "add", 5), await client.query(hits, "get")); // 5 5
await cluster.close();
