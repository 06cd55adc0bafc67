import { fileURLToPath } from "node:url";
import type { ServiceView } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { parseServiceFile } from "../service-file.js";
import { type ReleaseFixture, releaseFixture, runRelease } from "../test-support/release-fixture.js";
import type { ReleaseContext, ReleaseOutcome } from "./release-steps.js";
import { runRollingRelease } from "./rolling-release.js";

// The service imports @baton/runtime from its build (packages/runtime/dist).
const QUOTES_SERVICE = fileURLToPath(new URL("../test-support/quotes-service.mjs", import.meta.url));
const DRAIN_MS = 2000;

const file = parseServiceFile(`
service: quotes
listen: 8080
instances: 2
run: ${process.execPath} ${QUOTES_SERVICE}
health: { startTimeout: 5s }
strategy: rolling
keepPreviousFor: 0s
rolling: { maxSurge: 2, maxUnavailable: 0, minReady: 300ms, judgeFor: 0s }
drain: { timeout: ${DRAIN_MS}ms }
`);

let fx: ReleaseFixture;
let ctx: ReleaseContext;
const clients: Client[] = [];
/** The release under test: its instances are stopped at the end even when an assertion failed first. */
let releasing: Promise<ReleaseOutcome> | undefined;

beforeAll(async () => {
  fx = await releaseFixture("wsversions", file, 2);
  ctx = fx.context();
  await routerView("v1 ready in the router", (v) => v.tracks.some((t) => t.ready === 2));
});
afterAll(async () => {
  for (const c of clients) c.ws.terminate();
  const out = await releasing?.catch(() => undefined);
  if (out) fx.everything.push(...out.serving.instances);
  await fx?.close();
});

/** A quotes client through the router: what it negotiated, which version's code greeted it, how it ended. */
interface Client {
  ws: WebSocket;
  protocol: string;
  /** The version whose code serves the session (its hello message). */
  servedBy: string;
  /** The next message, parsed. */
  next(): Promise<any>;
  closed: Promise<{ code: number; at: number }>;
}

async function connect(offered: string[]): Promise<Client> {
  const ws = new WebSocket(`${fx.routerUrl.replace("http", "ws")}/quotes`, offered);
  const inbox: any[] = [];
  const waiting: ((m: any) => void)[] = [];
  ws.on("message", (d) => {
    const m = JSON.parse(d.toString());
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const next = () =>
    inbox.length ? Promise.resolve(inbox.shift()) : new Promise<any>((r) => waiting.push(r));
  const closed = new Promise<{ code: number; at: number }>((r) =>
    ws.once("close", (code) => r({ code, at: Date.now() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const hello = await next();
  const client = { ws, protocol: ws.protocol, servedBy: hello.version, next, closed };
  clients.push(client);
  return client;
}

/** The router's view of the service once `ok` holds (checked every 50 ms, for at most 20 s). */
async function routerView(what: string, ok: (view: ServiceView) => boolean): Promise<ServiceView> {
  for (let i = 0; i < 400; i++) {
    const view = await ctx.router.service("quotes");
    if (ok(view)) return view;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`still waiting for ${what} after 20 s`);
}

/** Subscribes in the client's own protocol; the answer, as the client reads it. */
async function quote(c: Client, symbol: string): Promise<any> {
  const answer = c.next();
  c.ws.send(
    JSON.stringify(
      c.protocol === "quotes.v1" ? { subscribe: symbol } : { type: "subscribe", symbols: [symbol] },
    ),
  );
  return answer;
}

/** The upgrade's refusal status through the router. */
function refusal(offered: string[]): Promise<number> {
  const ws = new WebSocket(`${fx.routerUrl.replace("http", "ws")}/quotes`, offered);
  ws.on("error", () => {});
  return new Promise((r) => ws.once("unexpected-response", (_req, res) => r(res.statusCode ?? 0)));
}

const V1_QUOTE = { type: "quote", symbol: "ACME", price: 100 };

describe("WebSocket protocol versions through a release that replaces every instance", () => {
  it("keeps v1 sessions until the drain timeout, and serves v1 and v2 clients from the v2 code", async () => {
    // Before: the old code speaks quotes.v1 only. A client that also speaks v2 falls back to v1.
    const oldV1 = await connect(["quotes.v1"]);
    const oldBoth = await connect(["quotes.v2", "quotes.v1"]);
    for (const c of [oldV1, oldBoth]) {
      expect([c.protocol, c.servedBy]).toEqual(["quotes.v1", "v1"]);
      expect(await quote(c, "ACME")).toEqual(V1_QUOTE);
    }
    expect(await refusal(["quotes.v2"])).toBe(400);

    releasing = runRelease(ctx, runRollingRelease, { version: "v2", cwd: fx.dir });
    // The old instances leave the table once the new ones take the traffic: the one holding the
    // sessions drains (an idle one stops at once), and the router says until when.
    const drained = await routerView(
      "v1 out of the table, draining",
      (v) => v.draining.length > 0 && v.tracks.every((t) => t.version !== "v1"),
    );
    const deadline = Math.min(...drained.draining.map((d) => Date.parse(d.drainDeadline ?? "")));
    expect(deadline, JSON.stringify(drained.draining)).toBeGreaterThan(Date.now());

    // New clients reach the new code: v1-only in quotes.v1, v2-capable in quotes.v2.
    const newV1 = await connect(["quotes.v1"]);
    const newBoth = await connect(["quotes.v2", "quotes.v1"]);
    const newV2 = await connect(["quotes.v2"]);
    expect([newV1.protocol, newV1.servedBy]).toEqual(["quotes.v1", "v2"]);
    expect([newBoth.protocol, newBoth.servedBy]).toEqual(["quotes.v2", "v2"]);
    expect(newV2.protocol).toBe("quotes.v2");
    expect(await quote(newV1, "ACME")).toEqual(V1_QUOTE);
    for (const c of [newBoth, newV2])
      expect(await quote(c, "ACME")).toMatchObject({
        type: "quote",
        symbol: "ACME",
        price: { amount: 100, currency: "USD" },
        ts: expect.any(Number),
      });

    // Old sessions work on, on the old code with their protocol, until the drain timeout...
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - DRAIN_MS / 2 - Date.now())));
    for (const c of [oldV1, oldBoth]) expect(await quote(c, "ACME")).toEqual(V1_QUOTE);
    // ...which closes them with 1001, not before it.
    for (const c of [oldV1, oldBoth]) {
      const { code, at } = await c.closed;
      expect(code).toBe(1001);
      expect(at).toBeGreaterThanOrEqual(deadline - 20);
      expect(at - deadline).toBeLessThan(1000);
    }

    const out = await releasing;
    expect(out.release.status, out.release.reason ?? "").toBe("succeeded");
    // After the release, the new sessions were kept and still work.
    expect(await quote(newV1, "INIT")).toEqual({ ...V1_QUOTE, symbol: "INIT" });
    expect((await quote(newV2, "INIT")).price.amount).toBe(100);

    // Each new instance reports its open sessions per protocol: one v1, two v2 in all.
    const open: Record<string, number> = {};
    for (const inst of out.serving.instances) {
      const text = await (await fetch(`http://${inst.address}/metrics`)).text();
      for (const m of text.matchAll(/baton_websocket_connections_open\{protocol="([^"]+)"\} (\d+)/g))
        open[m[1]!] = (open[m[1]!] ?? 0) + Number(m[2]);
    }
    expect(open).toEqual({ "quotes.v1": 1, "quotes.v2": 2 });
  }, 60_000);
});
