import { describe, expect, it } from "vitest";
import { createReplicaAwarePool } from "./create-replica-aware-pool.js";

// Refused before anything is asked of the pools: a stand-in with `query` is enough to get there.
const pool = { query: async () => ({ rows: [] }) };

describe("createReplicaAwarePool's options", () => {
  it("names what is missing or misspelt instead of failing later with a TypeError of its own", () => {
    const make = (o: object) => () => createReplicaAwarePool(o as never);
    expect(make({ replicas: [], maxLag: 1000 })).toThrow(/primary must be a node-postgres Pool/);
    expect(make({ primary: pool, maxLag: 1000 })).toThrow(
      /replicas must be a list of Pools .*\[\] reads from the primary only/,
    );
    expect(make({ primary: pool, replicas: [] })).toThrow(/maxLag is required/);
    expect(make({ primary: pool, replicas: [], maxLag: 1000, defaultConsistency: "eventually" })).toThrow(
      /defaultConsistency must be "eventual" or "strong", not "eventually"/,
    );
  });
});
