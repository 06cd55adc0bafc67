/**
 * examples/payments released v1 → v2 by `baton up` and `baton deploy`, under load: real
 * PostgreSQL (the service's tables in a fresh schema, Baton's state in another), real Redis (a
 * unique key prefix), real processes (`baton up`, its router, the instances). The release is a
 * canary with a short pause that runs the `users.user_email` → `email_address` rename with it.
 *
 * What must hold: no request fails; the session logged in at v1 is still logged in at v2 (and
 * saw both versions meanwhile); v1 API clients get v1's shapes, equal to what they posted, from
 * both versions; quotes.v1 WebSocket clients read only quotes.v1 messages and are closed only
 * with 1001 (then reconnect, to v2); and afterwards the migration is complete, API v2 and
 * quotes.v2 work, and the flag turns on the new checkout.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  apiPost,
  apiStatus,
  batonCli,
  exitOf,
  startBatonUp,
  until,
} from "../../../packages/cli/src/test-support/baton-cli.js";
import { freePort } from "../../../packages/control/src/providers/free-port.js";
import { processAlive } from "../../../packages/control/src/providers/process-alive.js";
import { TEST_DATABASE_URL, testSchema } from "../../../packages/control/src/test-support/test-database.js";
import { setupDatabase } from "./database.js";

const EXAMPLE = fileURLToPath(new URL("../", import.meta.url));
const RELEASE_V1 = join(EXAMPLE, "releases", "v1");
const RELEASE_V2 = join(EXAMPLE, "releases", "v2");
const hex = randomBytes(4).toString("hex");
const appSchema = `payrel_${hex}`;
const redisPrefix = `payments-test:${hex}:`;

let dir: string;
let port: number;
let state: Awaited<ReturnType<typeof testSchema>> | undefined;
let admin: pg.Client | undefined;
let redis: Redis | undefined;
let up: Awaited<ReturnType<typeof startBatonUp>> | undefined;
/** Every instance pid seen, to check that none is left running. */
const pids = new Set<number>();
const cleanups: (() => Promise<void> | void)[] = [];

/** `text` with `from` replaced by `to`, which must be there exactly once. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`baton.yaml: expected ${from} once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-payments-"));
  await chmod(dir, 0o755);
  port = await freePort();
  state = await testSchema("payrel_state");
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await setupDatabase(TEST_DATABASE_URL, appSchema, 200);
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: 2 });
  // The example's own baton.yaml, paced for a test: its port, its schema, a short canary judged on
  // fewer requests (looser tolerances: this test's requests never fail), no previous version kept
  // warm (so the migration completes within the release).
  let yaml = await readFile(join(EXAMPLE, "baton.yaml"), "utf8");
  for (const [from, to] of [
    ["listen: 8080", `listen: ${port}`],
    ["run: node ", `run: ${process.execPath} `],
    ["[ { weight: 25, pause: 15s }, { weight: 100 } ]", "[ { weight: 50, pause: 2s }, { weight: 100 } ]"],
    ["minRequests: 200", "minRequests: 60"],
    ["maxErrorRateIncrease: 0.02", "maxErrorRateIncrease: 0.05"],
    ["maxDecrease: 0.1 }", "maxDecrease: 0.5 }"],
    ["keepPreviousFor: 2m", "keepPreviousFor: 0s"],
    ["timeout: 5s", "timeout: 2s"],
    ["schema: payments", `schema: ${appSchema}`],
  ] as const)
    yaml = replaceOnce(yaml, from, to);
  await writeFile(join(dir, "baton.yaml"), yaml);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  if (up && up.exitCode === null && up.signalCode === null) {
    await apiPost(dir, "/v1/down", {}).catch(() => {});
    await Promise.race([exitOf(up), new Promise((r) => setTimeout(r, 10_000))]);
    up.kill("SIGKILL");
  }
  const deadline = Date.now() + 5_000;
  while ([...pids].some(processAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (processAlive(pid)) process.kill(pid, "SIGKILL");
  if (admin) {
    const { rows } = await admin.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
      [`${appSchema}%`],
    );
    for (const s of rows) await admin.query(`DROP SCHEMA "${s.nspname}" CASCADE`);
    await admin.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [appSchema]).catch(() => {});
    await admin.end();
  }
  await state?.drop();
  if (redis) {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = await redis.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 1000);
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

const url = (path: string) => `http://127.0.0.1:${port}${path}`;
const json = { "content-type": "application/json" };

/** One request through the router: status, version that served it, body. */
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url(path), {
    method,
    headers: { ...(body === undefined ? {} : json), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: any;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return {
    status: res.status,
    version: res.headers.get("x-baton-version") ?? "none",
    body: parsed,
    setCookie: res.headers.getSetCookie(),
  };
}

interface Load {
  sent: number;
  byVersion: Record<string, number>;
  failures: string[];
  /** The session's /me answers, by the version that served them. */
  sessionSeen: Record<string, number>;
  checkouts: number;
}

/** Clients that keep calling until stopped; every unexpected answer is a failure. */
function startLoad(sid: string, profile: unknown) {
  const load: Load = { sent: 0, byVersion: {}, failures: [], sessionSeen: {}, checkouts: 0 };
  let running = true;
  const fail = (what: string) => load.failures.length < 50 && load.failures.push(what);
  const counted = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    load.sent++;
    const r = await call(method, path, body, headers);
    load.byVersion[r.version] = (load.byVersion[r.version] ?? 0) + 1;
    return r;
  };
  const pause = () => new Promise((r) => setTimeout(r, 15));
  // A v1 API client: posts a payment in v1's shape and reads it back; both answers in v1's shape.
  const apiClient = async (w: number) => {
    for (let n = 0; running; n++) {
      try {
        const customer = `u${((w * 37 + n) % 200) + 1}`;
        const posted = await counted(
          "POST",
          "/api/v1/payments",
          { amount: n + 1, currency: "EUR", customer_id: customer },
          { "x-client-id": `client-${w}` },
        );
        const expected = { status: "succeeded", amount: n + 1, currency: "EUR", customer_id: customer };
        if (posted.status !== 201) fail(`POST v1 → ${posted.status} ${JSON.stringify(posted.body)}`);
        else if (
          Object.keys(posted.body).sort().join() !== "amount,currency,customer_id,flow,id,status" ||
          JSON.stringify({ ...posted.body, id: undefined, flow: undefined }) !==
            JSON.stringify({ ...expected, id: undefined, flow: undefined })
        )
          fail(`POST v1 by ${posted.version}: not v1's shape: ${JSON.stringify(posted.body)}`);
        else {
          const read = await counted("GET", `/api/v1/payments/${posted.body.id}`);
          if (read.status !== 200 || JSON.stringify(read.body) !== JSON.stringify(posted.body))
            fail(`GET v1 by ${read.version}: ${read.status} ${JSON.stringify(read.body)}`);
        }
      } catch (err) {
        fail(`v1 client: ${(err as Error).message}`);
      }
      await pause();
    }
  };
  // The logged-in user: its profile, and a checkout, with the session cookie from v1's login.
  const sessionUser = async () => {
    while (running) {
      try {
        const me = await counted("GET", "/api/v1/me", undefined, { cookie: `sid=${sid}` });
        if (me.status !== 200 || JSON.stringify(me.body) !== JSON.stringify(profile))
          fail(`GET /me by ${me.version}: ${me.status} ${JSON.stringify(me.body)}`);
        else load.sessionSeen[me.version] = (load.sessionSeen[me.version] ?? 0) + 1;
        const paid = await counted(
          "POST",
          "/api/v1/checkout",
          { amount: 9.5, currency: "EUR" },
          {
            cookie: `sid=${sid}`,
          },
        );
        if (paid.status !== 201 || paid.body.customer_id !== "u5" || paid.body.amount !== 9.5)
          fail(`checkout by ${paid.version}: ${paid.status} ${JSON.stringify(paid.body)}`);
        else load.checkouts++;
      } catch (err) {
        fail(`session: ${(err as Error).message}`);
      }
      await pause();
    }
  };
  const workers = [apiClient(0), apiClient(1), apiClient(2), sessionUser(), sessionUser()];
  return {
    load,
    async stop() {
      running = false;
      await Promise.all(workers);
      return load;
    },
  };
}

interface QuotesClient {
  /** The version in each session's hello, in order. */
  hellos: string[];
  protocols: string[];
  closeCodes: number[];
  quotes: number;
  bad: string[];
  stop(): void;
}

/** A quotes.v1 client that subscribes to ACME and reconnects when closed with 1001 (a drain). */
function quotesV1Client(): QuotesClient {
  const c: QuotesClient = { hellos: [], protocols: [], closeCodes: [], quotes: 0, bad: [], stop: () => {} };
  let stopped = false;
  let ws: WebSocket | undefined;
  const connect = () => {
    if (stopped) return;
    ws = new WebSocket(`ws://127.0.0.1:${port}/quotes`, "quotes.v1");
    ws.on("open", () => {
      c.protocols.push(ws!.protocol);
      ws!.send(JSON.stringify({ subscribe: "ACME" }));
    });
    ws.on("message", (data) => {
      const m = JSON.parse(String(data));
      if (m.type === "hello") c.hellos.push(m.version);
      else if (
        m.type === "quote" &&
        m.symbol === "ACME" &&
        typeof m.price === "number" &&
        Object.keys(m).sort().join() === "price,symbol,type"
      )
        c.quotes++;
      else if (c.bad.length < 10) c.bad.push(String(data));
    });
    ws.on("unexpected-response", (_req, res) => c.bad.push(`upgrade refused: ${res.statusCode}`));
    ws.on("error", (err) => c.bad.length < 10 && c.bad.push(`error: ${err.message}`));
    ws.on("close", (code) => {
      if (stopped) return;
      c.closeCodes.push(code);
      if (code === 1001) setTimeout(connect, 50);
    });
  };
  connect();
  c.stop = () => {
    stopped = true;
    ws?.close(1000);
  };
  return c;
}

describe("examples/payments released v1 → v2 with Baton", () => {
  it("under load: no failed request, the session kept, v1 API and v1 WebSocket clients unaffected", async () => {
    up = await startBatonUp(dir, {
      DATABASE_URL: TEST_DATABASE_URL,
      BATON_DB_SCHEMA: state!.schema,
      REDIS_URL: "redis://127.0.0.1:6379",
      REDIS_PREFIX: redisPrefix,
    });
    const baton = (...args: string[]) => batonCli(args, dir);
    const t0 = Date.now();
    const mark = (what: string) =>
      process.env.BATON_TEST_VERBOSE && console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const notePids = async () => {
      const s = await apiStatus(dir);
      for (const i of [...(s.serving?.instances ?? []), ...(s.warm?.instances ?? [])]) pids.add(i.pid);
    };

    // The router `baton up` started is one of the processes that must be gone at the end.
    pids.add((JSON.parse(await readFile(join(dir, ".baton", "router.json"), "utf8")) as { pid: number }).pid);
    const flags = await baton("flags", "apply", join(EXAMPLE, "flags.yaml"));
    expect(flags.code, flags.stdout + flags.stderr).toBe(0);
    mark("flags applied");
    const v1 = await baton("deploy", "--version", "v1", "--dir", RELEASE_V1, "--wait");
    expect(v1.code, v1.stdout + v1.stderr).toBe(0);
    await notePids();

    mark("v1 deployed");
    // Logged in at v1: the session lives in Redis.
    const login = await call("POST", "/api/v1/login", { email: "user5@example.com" });
    expect(login).toMatchObject({ status: 200, version: "v1" });
    const profile = { id: "u5", name: "User 5", email: "user5@example.com" };
    expect(login.body).toEqual(profile);
    const sid = /^sid=([\w-]+);/.exec(login.setCookie.find((c) => c.startsWith("sid=")) ?? "")?.[1];
    expect(sid).toBeTruthy();

    const sockets = Array.from({ length: 4 }, quotesV1Client);
    cleanups.push(() => {
      for (const s of sockets) s.stop();
    });
    await until(
      "the quotes.v1 clients to read quotes",
      async () => sockets.every((s) => s.quotes > 0),
      10_000,
    );
    mark("quotes clients reading");
    const traffic = startLoad(sid!, profile);
    cleanups.push(async () => void (await traffic.stop()));

    await until("load on v1", async () => traffic.load.sent > 100, 15_000);
    mark("load on v1");
    const v2 = await baton("deploy", "--version", "v2", "--dir", RELEASE_V2, "--wait");
    expect(v2.code, v2.stdout + v2.stderr).toBe(0);
    expect(v2.stdout).toMatch(/release 2: v2 \(canary from v1\) succeeded/);
    await notePids();
    mark(`v2 deployed\n${v2.stdout}`);
    // Some load on v2 alone, and every quotes.v1 client back, on v2.
    const atSwitch = traffic.load.byVersion.v2 ?? 0;
    await until(
      "load on v2 after the switch",
      async () => (traffic.load.byVersion.v2 ?? 0) > atSwitch + 50,
      15_000,
    );
    await until(
      "every quotes.v1 client reconnected to v2",
      async () => sockets.every((s) => s.hellos.at(-1) === "v2"),
      10_000,
    );
    const load = await traffic.stop();
    if (process.env.BATON_TEST_VERBOSE)
      console.log(JSON.stringify({ load, sockets: sockets.map((s) => ({ ...s, stop: undefined })) }));

    mark("load stopped");
    // No request failed; both versions served; the session saw both and stayed logged in.
    expect(load.failures, JSON.stringify(load.failures, null, 1)).toEqual([]);
    expect(load.byVersion.v1).toBeGreaterThan(0);
    expect(load.byVersion.v2).toBeGreaterThan(0);
    expect(Object.keys(load.byVersion).sort()).toEqual(["v1", "v2"]);
    expect(load.sessionSeen.v1).toBeGreaterThan(0);
    expect(load.sessionSeen.v2).toBeGreaterThan(0);
    const me = await call("GET", "/api/v1/me", undefined, { cookie: `sid=${sid}` });
    expect(me).toMatchObject({ status: 200, version: "v2", body: profile });

    // The quotes.v1 clients: only quotes.v1 messages, closed only by the drain (1001), and back.
    for (const s of sockets) {
      s.stop();
      expect(s.bad).toEqual([]);
      expect(new Set(s.protocols)).toEqual(new Set(["quotes.v1"]));
      expect(s.hellos[0]).toBe("v1");
      expect(s.hellos.at(-1)).toBe("v2");
      expect(s.closeCodes.length).toBeGreaterThan(0);
      expect(new Set(s.closeCodes)).toEqual(new Set([1001]));
      expect(s.protocols.length).toBe(s.closeCodes.length + 1);
    }

    // The migration completed with the release: the column is renamed for good, and v1's schema is gone from use.
    const { rows: columns } = await admin!.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'users' ORDER BY 1",
      [appSchema],
    );
    expect(columns.map((c) => c.column_name)).toEqual(["email_address", "id", "name"]);
    const { rows: migrations } = await admin!.query<{ name: string; status: string }>(
      "SELECT name, status FROM baton_migrate.migrations WHERE schema = $1",
      [appSchema],
    );
    expect(migrations).toEqual([{ name: "02_email_address", status: "completed" }]);

    mark("checks done");
    // v2's API, its quotes.v2, and v1's view of a v2 payment.
    const created = await call("POST", "/api/v2/payments", {
      amount: { value: 42, currency: "USD" },
      customer: { id: "u7", email: null },
    });
    expect(created).toMatchObject({
      status: 201,
      version: "v2",
      body: {
        status: "succeeded",
        amount: { value: 42, currency: "USD" },
        customer: { id: "u7", email: "user7@example.com" },
        flow: "classic",
      },
    });
    const asV1 = await call("GET", `/api/v1/payments/${created.body.id}`);
    expect(asV1.body).toEqual({
      id: created.body.id,
      status: "succeeded",
      amount: 42,
      currency: "USD",
      customer_id: "u7",
      flow: "classic",
    });
    const v2Quote = await new Promise<any>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/quotes`, ["quotes.v1", "quotes.v2"]);
      const timer = setTimeout(() => reject(new Error("no quotes.v2 quote within 5 s")), 5_000);
      ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", symbols: ["ACME"] })));
      ws.on("message", (data) => {
        const m = JSON.parse(String(data));
        if (m.type !== "quote") return;
        clearTimeout(timer);
        resolve({ protocol: ws.protocol, ...m });
        ws.close(1000);
      });
      ws.on("error", reject);
    });
    expect(v2Quote).toMatchObject({
      protocol: "quotes.v2",
      symbol: "ACME",
      price: { amount: expect.any(Number), currency: "USD" },
      ts: expect.any(Number),
    });

    // v2 knows v1 was before it (its cache upgrades v1's entries), and the flag turns on the new checkout.
    const info = await call("GET", "/internal/info");
    expect(info.body).toMatchObject({ version: "v2", release: 2, previousVersion: "v1" });
    mark("info");
    const on = await baton("flags", "enable", "new-checkout");
    expect(on.code, on.stdout + on.stderr).toBe(0);
    let flow = "";
    await until(
      "the new checkout",
      async () => {
        const paid = await call(
          "POST",
          "/api/v1/checkout",
          { amount: 1, currency: "EUR" },
          { cookie: `sid=${sid}` },
        );
        flow = paid.body.flow;
        return paid.status === 201 && flow === "one-click";
      },
      10_000,
    );
    expect(flow).toBe("one-click");

    mark("flag seen");
    // `baton down` stops every instance it started.
    await notePids();
    const down = await baton("down");
    expect(down.code, down.stdout + down.stderr).toBe(0);
    await Promise.race([exitOf(up), new Promise((r) => setTimeout(r, 10_000))]);
    await until(
      "every instance and the router to stop",
      async () => [...pids].every((p) => !processAlive(p)),
      10_000,
    );
    expect(pids.size).toBeGreaterThanOrEqual(5); // the router, two instances of v1, two of v2
    mark("down");
  }, 90_000);
});
