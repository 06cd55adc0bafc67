import type { Flag } from "@baton/flags";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/audit-log.js";
import { pgClient } from "../state/sql-client.js";
import { disposablePostgres } from "../test-support/disposable-postgres.js";
import { startFlagApi } from "../test-support/flag-fixture.js";
import { openApiConformance } from "../test-support/openapi-conformance.js";
import { openStream } from "../test-support/sse-reader.js";
import { testSchema } from "../test-support/test-database.js";
import type { ScheduledChange } from "./flag-schedule.js";
import { FlagService } from "./flag-service.js";

let fx: Awaited<ReturnType<typeof startFlagApi>>;

const rolloutFlag = (name: string, percent: number): Flag => ({
  name,
  enabled: true,
  strategies: [
    {
      name: "flexibleRollout",
      parameters: { rollout: String(percent), stickiness: "userId", groupId: name },
    },
  ],
});

beforeAll(async () => {
  fx = await startFlagApi("flagsched");
});
afterAll(() => fx?.close());

describe("the reason of a flag change", () => {
  it("is kept in the history and the audit event, from the API and from FlagService", async () => {
    await fx.call("PUT", "/v1/flags/reasoned", rolloutFlag("reasoned", 10));
    const r = await fx.call("POST", "/v1/flags/reasoned/rollout", {
      percent: 20,
      actor: "ana",
      reason: "INC-42 is fixed",
    });
    expect(r.status).toBe(200);
    await fx.flags.setEnabled("reasoned", false, {
      actor: "guarded-rollout",
      reason: "error rate 0.071 > 0.02 + 0.02 allowed",
    });
    const history = (await fx.call("GET", "/v1/flags/reasoned/history")).body;
    expect(history.map((c: { reason: string | null }) => c.reason)).toEqual([
      "error rate 0.071 > 0.02 + 0.02 allowed",
      "INC-42 is fixed",
      null,
    ]);
    const events = (await fx.plane.audit.list(1000)).filter((e) => e.details?.flag === "reasoned");
    expect(events.map((e) => [e.actor, e.details?.reason])).toEqual([
      ["api", undefined],
      ["ana", "INC-42 is fixed"],
      ["guarded-rollout", "error rate 0.071 > 0.02 + 0.02 allowed"],
    ]);
    const bad = await fx.call("POST", "/v1/flags/reasoned/enable", { reason: "two\nlines" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("reason");
    expect((await fx.call("GET", "/v1/flags/reasoned")).body.flag.enabled).toBe(false);
  });
});

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (polling), or fails naming `what`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const scheduleOf = async (id: number) => {
  const { pending, recent } = (await fx.call("GET", "/v1/flags/schedule")).body;
  return [...pending, ...recent].find((c: { id: number }) => c.id === id);
};

describe("scheduled flag changes", () => {
  it("makes a change scheduled a second ahead at its time, and streams it to SDKs", async () => {
    await fx.call("PUT", "/v1/flags/timed", rolloutFlag("timed", 10));
    const token = (await fx.call("POST", "/v1/flags/tokens", { name: "timed-sdk" })).body.token;
    const stream = await openStream(fx.api.url, token);
    expect((await stream.next()).event).toBe("unleash-connected");

    const at = inMs(1200);
    const r = await fx.call("POST", "/v1/flags/timed/rollout", {
      percent: 60,
      at,
      actor: "ana",
      reason: "launch",
    });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({
      flag: "timed",
      action: "rollout",
      percent: 60,
      at,
      state: "pending",
      createdBy: "ana",
    });
    expect((await fx.call("GET", "/v1/flags/timed")).body.flag.strategies[0].parameters.rollout).toBe("10");
    const { pending } = (await fx.call("GET", "/v1/flags/schedule")).body;
    expect(pending.map((c: { id: number }) => c.id)).toContain(r.body.id);

    const update = await stream.next();
    const late = Date.now() - Date.parse(at);
    stream.close();
    expect(update.event).toBe("unleash-updated");
    expect(JSON.parse(update.data).events[0].feature.strategies[0].parameters.rollout).toBe("60");
    expect(late).toBeGreaterThanOrEqual(0);
    expect(late).toBeLessThan(500);

    const done = await scheduleOf(r.body.id);
    expect(done).toMatchObject({ state: "done", doneAt: expect.any(String) });
    expect(done.result).toMatch(/^applied on time: version 2$/);
    const [change] = (await fx.call("GET", "/v1/flags/timed/history?limit=1")).body;
    expect(change).toMatchObject({
      actor: "ana (scheduled)",
      reason: `scheduled #${r.body.id} at ${at} by ana: launch`,
    });
    const events = (await fx.plane.audit.list(1000)).filter((e) => e.details?.scheduleId === r.body.id);
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["flag.scheduled", "ana"],
      ["flag.schedule.applied", "schedule"],
    ]);
    expect(events[0]!.details).toMatchObject({
      flag: "timed",
      change: "rollout",
      percent: 60,
      at,
      reason: "launch",
    });
  });

  it("refuses a bad `at` with a 400 naming it and saying what is expected, and stores nothing", async () => {
    await fx.call("PUT", "/v1/flags/guarded", rolloutFlag("guarded", 5));
    await fx.call("PUT", "/v1/flags/plain-on", { enabled: true, strategies: [{ name: "default" }] });
    const before = (await fx.call("GET", "/v1/flags/schedule")).body;
    const bad = async (path: string, body: Record<string, unknown>, field: string, says: string) => {
      const r = await fx.call("POST", path, body);
      expect(r.status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`).toBe(400);
      expect(r.body.error).toMatchObject({ code: "BATON_BAD_REQUEST", field });
      expect(r.body.error.message).toContain(says);
    };
    const expected = "expected an ISO 8601 date-time with a zone";
    await bad("/v1/flags/guarded/enable", { at: "2027-01-01T09:00" }, "at", "has no zone");
    await bad("/v1/flags/guarded/enable", { at: "2027-01-01T09:00" }, "at", expected);
    await bad("/v1/flags/guarded/disable", { at: "tomorrow" }, "at", expected);
    await bad("/v1/flags/guarded/disable", { at: "2027-02-30T09:00Z" }, "at", "not a real date");
    await bad("/v1/flags/guarded/rollout", { percent: 50, at: "2020-01-01T00:00Z" }, "at", "is in the past");
    await bad(
      "/v1/flags/guarded/rollout",
      { percent: 50, at: inMs(400 * 86_400_000) },
      "at",
      "more than a year ahead",
    );
    await bad("/v1/flags/guarded/enable", { at: 1767225600 }, "at", "must be a string");
    await bad("/v1/flags/guarded/enable", { at: inMs(60_000), version: 1 }, "version", "leave out version");
    const ifMatch = await fx.call(
      "POST",
      "/v1/flags/guarded/enable",
      { at: inMs(60_000) },
      { "if-match": '"1"' },
    );
    expect(ifMatch.body.error.field).toBe("If-Match");

    const unknown = await fx.call("POST", "/v1/flags/nope/enable", { at: inMs(60_000) });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("BATON_UNKNOWN_FLAG");
    const noRollout = await fx.call("POST", "/v1/flags/plain-on/rollout", { percent: 20, at: inMs(60_000) });
    expect(noRollout.status).toBe(422);
    expect(noRollout.body.error.code).toBe("BATON_FLAG_NO_ROLLOUT");
    expect((await fx.call("GET", "/v1/flags/schedule")).body).toEqual(before);
    expect((await fx.call("GET", "/v1/flags/guarded")).body.version).toBe(1);
  });

  it("cancels a pending change (audited); 404 for an unknown id, 409 once it is no longer pending", async () => {
    await fx.call("PUT", "/v1/flags/cancelled", rolloutFlag("cancelled", 5));
    const day = inMs(30 * 86_400_000).slice(0, 10);
    const scheduled = await fx.call("POST", "/v1/flags/cancelled/disable", { at: `${day}T10:00+01:00` });
    expect(scheduled.body.at).toBe(`${day}T09:00:00.000Z`);
    const { id } = scheduled.body;
    const r = await fx.call("DELETE", `/v1/flags/schedule/${id}`, { actor: "ana" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id, state: "cancelled", result: "cancelled by ana" });
    const again = await fx.call("DELETE", `/v1/flags/schedule/${id}`, {});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("BATON_SCHEDULE_NOT_PENDING");
    expect(again.body.error.message).toContain(`#${id} (cancelled disable) is no longer pending: cancelled`);
    const unknown = await fx.call("DELETE", "/v1/flags/schedule/999999", {});
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("BATON_UNKNOWN_SCHEDULED_CHANGE");
    expect((await fx.call("DELETE", "/v1/flags/schedule/abc", {})).body.error.field).toBe("id");
    const { pending, recent } = (await fx.call("GET", "/v1/flags/schedule")).body;
    expect(pending.map((c: { id: number }) => c.id)).not.toContain(id);
    expect(recent[0]).toMatchObject({ id, state: "cancelled" });
    const events = (await fx.plane.audit.list(1000)).filter((e) => e.details?.scheduleId === id);
    expect(events.map((e) => [e.action, e.actor])).toEqual([
      ["flag.scheduled", "api"],
      ["flag.schedule.cancelled", "ana"],
    ]);
    expect((await fx.call("GET", "/v1/flags/cancelled")).body.flag.enabled).toBe(true);
  });

  it("marks a change that no longer applies failed, audited, and still makes the next ones", async () => {
    for (const name of ["doomed", "stripped", "survivor"])
      await fx.call("PUT", `/v1/flags/${name}`, rolloutFlag(name, 5));
    const at = inMs(700);
    const doomed = (await fx.call("POST", "/v1/flags/doomed/rollout", { percent: 50, at })).body;
    const stripped = (await fx.call("POST", "/v1/flags/stripped/rollout", { percent: 50, at })).body;
    const survivor = (await fx.call("POST", "/v1/flags/survivor/disable", { at: inMs(750) })).body;
    await fx.call("DELETE", "/v1/flags/doomed");
    await fx.call("PUT", "/v1/flags/stripped", { enabled: true, strategies: [{ name: "default" }] });
    await until("the survivor's change", async () => (await scheduleOf(survivor.id)).state !== "pending");
    expect(await scheduleOf(doomed.id)).toMatchObject({
      state: "failed",
      result: "not applied: no flag doomed",
    });
    const s = await scheduleOf(stripped.id);
    expect(s.state).toBe("failed");
    expect(s.result).toContain("has no flexibleRollout strategy");
    expect(await scheduleOf(survivor.id)).toMatchObject({ state: "done" });
    expect((await fx.call("GET", "/v1/flags/survivor")).body.flag.enabled).toBe(false);
    const failed = (await fx.plane.audit.list(1000)).filter((e) => e.action === "flag.schedule.failed");
    expect(failed.map((e) => e.details?.scheduleId)).toEqual([doomed.id, stripped.id]);
    expect((await fx.call("GET", "/v1/audit/verify")).body.problems).toEqual([]);
  });
});

describe("scheduled changes across control planes", () => {
  let env: Awaited<ReturnType<typeof testSchema>>;
  const planes: FlagService[] = [];
  const logged: string[] = [];
  const start = async () => {
    const plane = new FlagService({ db: env.db, service: "flagged", log: (line) => logged.push(line) });
    planes.push(plane);
    await plane.init();
    return plane;
  };
  beforeAll(async () => {
    env = await testSchema("flagplanes");
    await new AuditLog(env.db).migrate();
  });
  afterAll(async () => {
    for (const plane of planes) await plane.close();
    await env?.drop();
  });

  it("makes a change that fell due while no control plane ran at once when one starts, saying how late", async () => {
    const first = await start();
    await first.put("restarted", rolloutFlag("restarted", 10), { actor: "ana" });
    const scheduled = await first.scheduleChange(
      "restarted",
      { action: "rollout", percent: 70, at: inMs(300) },
      { actor: "ana" },
    );
    await first.close();
    await sleep(1500);
    expect((await first.store.get("restarted"))!.flag.strategies[0]!.parameters!.rollout).toBe("10");

    const second = await start();
    // Made during init(): the flag is already changed for the SDKs of the new control plane.
    expect(
      second.snapshot.features().find((f) => f.name === "restarted")?.strategies[0]?.parameters?.rollout,
    ).toBe("70");
    const { recent } = await second.schedule.list();
    const done = recent.find((c) => c.id === scheduled.id)!;
    expect(done.state).toBe("done");
    expect(done.result).toMatch(/^applied 1\.\ds late: version 2$/);
  });

  it("has two control planes on one database make each due change exactly once, in order", async () => {
    logged.length = 0;
    const [a, b] = [await start(), await start()];
    // Scheduled by a third that is gone by then: a and b find the changes due at the same moment.
    const c = await start();
    await c.put("raced", rolloutFlag("raced", 0), { actor: "ana" });
    const base = Date.now() + 300;
    const percents = [11, 22, 33, 44, 55, 66, 77, 88];
    const ids: number[] = [];
    for (const [i, percent] of percents.entries()) {
      const at = new Date(base + i);
      ids.push((await c.scheduleChange("raced", { action: "rollout", percent, at }, { actor: "ana" })).id);
    }
    await c.close();
    await sleep(base - Date.now() + 20);
    const [byA, byB] = await Promise.all([a.scheduler.runDue(), b.scheduler.runDue()]);
    expect([...byA, ...byB].map((x) => x.id).sort((x, y) => x - y)).toEqual(ids);
    const { recent } = await a.schedule.list();
    expect(recent.filter((x) => ids.includes(x.id)).map((x) => x.state)).toEqual(percents.map(() => "done"));
    const history = await a.history("raced");
    expect(history.map((x) => (x.after as Flag).strategies[0]!.parameters!.rollout)).toEqual(
      [...percents.map(String)].reverse().concat("0"),
    );
    expect((await a.store.get("raced"))!.version).toBe(1 + percents.length);
    // Neither tried a change the other held (and had to undo it).
    expect(logged).toEqual([]);
  });

  it("gives up a change the database keeps refusing after 3 tries, and makes the others meanwhile", async () => {
    for (const plane of planes) await plane.close();
    logged.length = 0;
    const p = await start();
    await p.put("poisoned", rolloutFlag("poisoned", 0), { actor: "ana" });
    await p.put("healthy", rolloutFlag("healthy", 0), { actor: "ana" });
    // A real refusal by the database, as a broken constraint or a bug would give.
    await env.db.query(`
      CREATE FUNCTION refuse_poisoned() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'poisoned is refused'; END $$`);
    await env.db.query(`
      CREATE TRIGGER refuse_poisoned BEFORE UPDATE ON baton_flags
      FOR EACH ROW WHEN (NEW.name = 'poisoned') EXECUTE FUNCTION refuse_poisoned()`);
    const poisoned = await p.scheduleChange(
      "poisoned",
      { action: "rollout", percent: 5, at: inMs(200) },
      { actor: "ana" },
    );
    const healthy = await p.scheduleChange(
      "healthy",
      { action: "rollout", percent: 5, at: inMs(250) },
      { actor: "ana" },
    );
    // The scheduler's own wakes: the healthy change is made at its time, though the refused one
    // is tried first at each wake (at 200 ms, and again at 250 ms)...
    await until("the healthy change", async () => (await p.store.get("healthy"))!.version === 2, 1000);
    const tries = () => logged.filter((line) => line.includes("poisoned is refused")).length;
    expect(tries()).toBeLessThanOrEqual(2);
    // ...and not again at once, over and over: only at the next poll (5 s here).
    await sleep(300);
    expect(tries()).toBeLessThanOrEqual(2);
    await p.scheduler.stop();
    let given: ScheduledChange | undefined;
    while (tries() < 3) [given] = await p.scheduler.runDue();
    expect(given).toMatchObject({ id: poisoned.id, state: "failed" });
    expect(given!.result).toBe("not applied after 3 tries: poisoned is refused");
    expect(logged.filter((line) => line.includes("poisoned is refused"))).toHaveLength(3);
    expect(await p.scheduler.runDue()).toEqual([]);
    expect((await p.schedule.list()).recent.find((c) => c.id === healthy.id)?.state).toBe("done");
    await env.db.query("DROP TRIGGER refuse_poisoned ON baton_flags");
  });
});

describe("stale flags", () => {
  it("lists flags fully on or fully off and unchanged past the threshold, with a hint", async () => {
    const flags: Record<string, [Record<string, unknown>, number]> = {
      "st-default-on": [{ enabled: true, strategies: [{ name: "default" }] }, 41],
      "st-hundred": [rolloutFlag("st-hundred", 100), 40],
      "st-gradual": [
        { enabled: true, strategies: [{ name: "gradualRolloutUserId", parameters: { percentage: "100" } }] },
        39,
      ],
      "st-disabled": [{ ...rolloutFlag("st-disabled", 30), enabled: false }, 35],
      "st-zero": [rolloutFlag("st-zero", 0), 31],
      "st-young": [{ enabled: true, strategies: [{ name: "default" }] }, 10],
      "st-half": [rolloutFlag("st-half", 50), 60],
      "st-constrained": [
        {
          enabled: true,
          strategies: [
            { name: "default", constraints: [{ contextName: "country", operator: "IN", values: ["FR"] }] },
          ],
        },
        60,
      ],
      "st-split": [
        {
          enabled: true,
          strategies: [{ name: "default" }],
          variants: [
            { name: "blue", weight: 500, weightType: "variable", stickiness: "default" },
            { name: "green", weight: 500, weightType: "variable", stickiness: "default" },
          ],
        },
        60,
      ],
      "st-scheduled": [{ enabled: true, strategies: [{ name: "default" }] }, 60],
    };
    for (const [name, [flag, days]] of Object.entries(flags)) {
      expect((await fx.call("PUT", `/v1/flags/${name}`, flag)).status, name).toBe(200);
      await fx.env.db.query(
        `UPDATE baton_flags SET updated_at = now() - make_interval(days => $2) WHERE name = $1`,
        [name, days],
      );
    }
    await fx.call("POST", "/v1/flags/st-scheduled/disable", { at: inMs(3_600_000) });

    const stale = async (query = "") => {
      const r = await fx.call("GET", `/v1/flags/stale${query}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body.flags.filter((f: { name: string }) => f.name.startsWith("st-"));
    };
    const month = await stale();
    expect(
      month.map((f: { name: string; state: string; daysUnchanged: number }) => [
        f.name,
        f.state,
        f.daysUnchanged,
      ]),
    ).toEqual([
      ["st-default-on", "fullyOn", 41],
      ["st-hundred", "fullyOn", 40],
      ["st-gradual", "fullyOn", 39],
      ["st-disabled", "fullyOff", 35],
      ["st-zero", "fullyOff", 31],
    ]);
    expect(month[0].hint).toBe(
      "on for everyone for 41 days: remove the flag and the code path that is never taken",
    );
    expect(month[3].hint).toContain("off for everyone for 35 days");
    expect(Date.parse(month[0].since)).toBeLessThan(Date.now() - 41 * 86_400_000 + 60_000);
    expect((await fx.call("GET", "/v1/flags/stale?olderThan=36d")).body.olderThan).toBe("36d");
    expect((await stale("?olderThan=36d")).map((f: { name: string }) => f.name)).toEqual([
      "st-default-on",
      "st-hundred",
      "st-gradual",
    ]);
    expect((await stale("?olderThan=7d")).map((f: { name: string }) => f.name)).toContain("st-young");
    expect((await stale("?olderThan=1d12h")).length).toBe(6);
    expect((await stale("?olderThan=90m")).length).toBe(6);

    for (const query of ["?olderThan=abc", "?olderThan=30", "?olderThan=-1d", "?olderThan=99999d"]) {
      const r = await fx.call("GET", `/v1/flags/stale${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body.error.field).toBe("olderThan");
      expect(r.body.error.message).toContain("a duration such as 30d, 12h or 90m");
    }
    expect((await fx.call("GET", "/v1/flags/stale?days=3")).body.error.field).toBe("days");
  });
});

describe("the OpenAPI document", () => {
  it("describes the schedule and stale routes, and the answers they really give", async () => {
    const doc = (await fx.call("GET", "/v1/openapi.json", undefined, {}, null)).body;
    expect(Object.keys(doc.paths["/v1/flags/schedule/{id}"])).toEqual(["delete"]);
    expect(doc.paths["/v1/flags/schedule/{id}"].delete.responses["409"].description).toContain(
      "BATON_SCHEDULE_NOT_PENDING",
    );
    const check = openApiConformance(doc, (method, path, body) => fx.call(method, path, body));
    const conforms = async (method: string, path: string, template: string, body?: unknown) =>
      (await check(method, path, template, body)).body;
    await fx.call("PUT", "/v1/flags/documented", rolloutFlag("documented", 3));
    const { id } = await conforms("POST", "/v1/flags/documented/rollout", "/v1/flags/{name}/rollout", {
      percent: 9,
      at: inMs(3_600_000),
    });
    await conforms("POST", "/v1/flags/documented/enable", "/v1/flags/{name}/enable", { at: "soon" });
    await conforms("GET", "/v1/flags/schedule", "/v1/flags/schedule");
    await conforms("DELETE", `/v1/flags/schedule/${id}`, "/v1/flags/schedule/{id}");
    await conforms("DELETE", `/v1/flags/schedule/${id}`, "/v1/flags/schedule/{id}");
    await conforms("GET", "/v1/flags/stale?olderThan=1d", "/v1/flags/stale");
  });
});

describe("a scheduled change while the database is away", () => {
  it("is retried at each wake, logged, and made once the database is back", async () => {
    const pg = await disposablePostgres();
    const db = pgClient(pg.url);
    const logged: string[] = [];
    const flags = new FlagService({
      db,
      service: "flagged",
      log: (line) => logged.push(line),
      schedulePollMs: 100,
    });
    try {
      await new AuditLog(db).migrate();
      await flags.init();
      await flags.put("outage", rolloutFlag("outage", 10), { actor: "ana" });
      const { id } = await flags.scheduleChange(
        "outage",
        { action: "rollout", percent: 90, at: inMs(1500) },
        { actor: "ana" },
      );
      const stopping = Date.now();
      await pg.stop();
      expect(Date.now() - stopping).toBeLessThan(1000);
      await sleep(3000 - (Date.now() - stopping));
      expect(logged.some((line) => line.includes("cannot reach the state database"))).toBe(true);
      await pg.start();
      await until("the change, once the database is back", async () => {
        const record = await flags.store.get("outage").catch(() => undefined);
        return record?.flag.strategies[0]?.parameters?.rollout === "90";
      });
      const done = (await flags.schedule.list()).recent.find((c) => c.id === id);
      expect(done?.result).toMatch(/^applied \d\.\ds late: version 2$/);
    } finally {
      await flags.close();
      await db.close();
      await pg.destroy();
    }
  });
});
