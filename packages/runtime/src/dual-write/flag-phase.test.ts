// The phase read from a Baton flag's variant through @baton/flags's real client, polling a small
// client API served here, against the shared PostgreSQL and Redis: the phase moves when the flag
// does, without a deploy, and only as far as the migration's checks allow.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFlagClient, type FlagClient } from "../../../flags/src/index.js";
import { type DualWriteEvent, dualWrite } from "./dual-write.js";
import { isDualWriteError } from "./dual-write-error.js";
import { flagPhase } from "./flag-phase.js";
import { parseMigrationPhase } from "./migration-phase.js";
import { pgStore } from "./pg-store.js";
import { redisStore } from "./redis-store.js";

const RUN = randomUUID().slice(0, 8);
const TABLE = `baton_test_dw_flag_${RUN}`;
const PREFIX = `baton-test:dw-flag:${RUN}:`;
const FLAG = "sessions-store";

let pool: pg.Pool;
let redis: Redis;
let server: Server;
let url: string;
let client: FlagClient;
/** The variant the served flag answers (a name, or a payload under the name `step`); undefined: off. */
let variant: { name: string; payload?: string } | undefined = { name: "dual-write" };

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: "postgres://postgres@localhost:5432/test", max: 4 });
  redis = new Redis("redis://127.0.0.1:6379");
  await pool.query(
    `CREATE TABLE ${TABLE} (id text PRIMARY KEY, value jsonb, version bigint NOT NULL DEFAULT 0,
     deleted boolean NOT NULL DEFAULT false)`,
  );
  await pool.query(
    `INSERT INTO ${TABLE} (id, value) SELECT 's' || i, to_jsonb(i) FROM generate_series(1, 50) i`,
  );
  server = createServer((req, res) => {
    if (req.method !== "GET" || !req.url?.endsWith("/client/features")) return res.writeHead(202).end();
    const flag = {
      name: FLAG,
      enabled: variant !== undefined,
      strategies: [{ name: "default", parameters: {} }],
      variants: variant
        ? [
            {
              name: variant.name,
              weight: 1000,
              stickiness: "default",
              ...(variant.payload ? { payload: { type: "string", value: variant.payload } } : {}),
            },
          ]
        : [],
    };
    res
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ version: 2, features: [flag] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`;
  client = createFlagClient({
    url,
    token: "test",
    appName: "sessions",
    streaming: false,
    refreshInterval: 50,
    metricsInterval: 0,
    outcomesInterval: 0,
  });
  await client.ready();
});
afterAll(async () => {
  await client?.close();
  server?.close();
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
  await pool.end();
});

/** Serves `next` and waits until the client has polled it. */
async function setFlag(next: typeof variant): Promise<void> {
  variant = next;
  const expected = next ? (next.payload ? "step" : next.name) : "disabled";
  while (client.getVariant(FLAG).name !== expected) await sleep(10);
}

describe("flagPhase", () => {
  it("reads phases as variants name them", () => {
    expect(
      ["3", "phase-3", " Phase3 ", "dual-read", "phase_4", "retired", "off"].map(parseMigrationPhase),
    ).toEqual([3, 3, 3, 3, 4, 5, 0]);
    expect(["6", "three", "", "phase-"].map(parseMigrationPhase)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("moves a migration with the flag, as far as its checks allow, and keeps the last phase when the flag is off", async () => {
    const events: DualWriteEvent<number>[] = [];
    const migration = dualWrite<number>({
      name: "flagged",
      from: pgStore<number>({ pool, table: TABLE }),
      to: redisStore<number>({ redis, prefix: PREFIX }),
      phase: flagPhase(client, FLAG),
      minComparisons: 10,
      recheckMs: 0,
      registry: false,
      onEvent: (e) => events.push(e),
    });
    expect(migration.phase).toBe(1);
    await migration.put("s1", 100);

    await setFlag({ name: "dual-read" }); // too far: no backfill yet
    expect(await migration.settle()).toBe(1);
    expect(events.at(-1)).toMatchObject({ type: "refused", from: 1, to: 3 });
    await setFlag({ name: "phase-2" });
    expect(await migration.settle()).toBe(2);
    expect(await migration.backfill()).toEqual({ copied: 50, read: 50, done: true });
    await setFlag({ name: "dual-read" });
    expect(await migration.settle()).toBe(3);
    for (let i = 1; i <= 10; i++) expect(await migration.get(`s${i}`)).toBe(i === 1 ? 100 : i);
    await migration.settle();
    expect(migration.mismatchRate()).toEqual({ comparisons: 10, mismatches: 0, rate: 0 });

    await setFlag(undefined); // off by mistake: the migration stays where it was
    expect(await migration.settle()).toBe(3);
    await setFlag({ name: "step", payload: "new-primary" }); // the phase in a payload
    expect(await migration.settle()).toBe(4);
    await migration.put("s2", 200);
    expect(await migration.get("s2")).toBe(200);
    await setFlag({ name: "1" }); // all the way back
    expect(await migration.settle()).toBe(1);
    expect(await migration.get("s2")).toBe(200);
    expect((await migration.checksums()).equal).toBe(true);
    expect(events.filter((e) => e.type === "phase").map((e) => (e.type === "phase" ? e.to : -1))).toEqual([
      2, 3, 4, 1,
    ]);
  });

  it("fails operations while the flag has never named a phase, unless given whenUnknown", async () => {
    const silent = createFlagClient({
      url,
      token: "test",
      appName: "other",
      streaming: false,
      metricsInterval: 0,
    });
    silent.on("error", () => {});
    const bare = flagPhase(silent, "no-such-flag");
    const error = (() => {
      try {
        bare();
      } catch (e) {
        return e;
      }
    })();
    expect(isDualWriteError(error, "BATON_DUAL_WRITE_NO_PHASE")).toBe(true);
    expect((error as Error).message).toMatch(
      /flag "no-such-flag" answers variant "disabled", which names no phase/,
    );
    expect(flagPhase(silent, "no-such-flag", { whenUnknown: 0 })()).toBe(0);
    await silent.close();
  });
});
