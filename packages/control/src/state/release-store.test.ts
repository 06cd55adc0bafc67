import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseUnavailableError, ReleaseInProgressError } from "../errors.js";
import { testSchema } from "../test-support/test-database.js";
import { ReleaseStore } from "./release-store.js";
import { pgClient } from "./sql-client.js";

let env: Awaited<ReturnType<typeof testSchema>>;
let store: ReleaseStore;
beforeAll(async () => {
  env = await testSchema("store");
  store = new ReleaseStore(env.db);
  await store.migrate();
});
afterAll(() => env?.drop());

const release = (version: string) => ({
  service: "payments",
  version,
  previousVersion: "v1",
  strategy: "canary",
  previousInstances: [],
});

describe("release store", () => {
  it("refuses a second release of a service while one runs, even when two race", async () => {
    const first = await store.create({ ...release("v2"), dir: "/srv/payments/v2", env: { FEATURE: "on" } });
    expect(await store.get(first.id)).toMatchObject({ dir: "/srv/payments/v2", env: { FEATURE: "on" } });
    await expect(store.create(release("v3"))).rejects.toThrow(ReleaseInProgressError);
    await expect(store.create(release("v3"))).rejects.toThrow(
      /already in progress \(release \d+ of v2, starting\)/,
    );
    await store.update(first.id, { status: "succeeded" });
    const racing = await Promise.allSettled([store.create(release("v4")), store.create(release("v5"))]);
    expect(racing.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(racing.find((r) => r.status === "rejected")!.reason).toBeInstanceOf(ReleaseInProgressError);
  });

  it("says plainly when the database is down, without the password", async () => {
    const down = new ReleaseStore(pgClient("postgres://baton:hunter2@127.0.0.1:1/baton"));
    const err = await down.create(release("v9")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect((err as Error).message).toMatch(
      /^cannot reach the state database at postgres:\/\/baton:\*\*\*@127\.0\.0\.1:1\/baton: .*ECONNREFUSED.*nothing was changed$/,
    );
    expect((err as Error).message).not.toContain("hunter2");
  });
});
