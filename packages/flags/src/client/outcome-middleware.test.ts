import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import express from "express";
import Fastify from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Flag } from "../flag-schema.js";
import { createFlagClient, type FlagClient } from "./create-flag-client.js";
import { latencyBucket, type OutcomePayload } from "./outcome-bucket.js";
import { fastifyFlagOutcomes, flagOutcomes, withFlagOutcomes } from "./outcome-middleware.js";

const TOKEN = "default:development.outcomes";

/** Users whose id is "on-..." get the flag, the others do not. */
const risky: Flag = {
  name: "risky",
  enabled: true,
  strategies: [
    {
      name: "default",
      parameters: {},
      constraints: [{ contextName: "userId", operator: "STR_STARTS_WITH", values: ["on-"] }],
    },
  ],
};

/** A client API that serves one state and keeps the outcome reports it gets (404 when told to). */
let api: Server;
let apiUrl: string;
const reports: { appName: string; flags: OutcomePayload }[] = [];
let outcomesMissing = false;
let outcomesDown = 0;
const servers: Server[] = [];
const clients: FlagClient[] = [];

beforeAll(async () => {
  api = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.url?.startsWith("/api/client/features"))
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ version: 2, features: [risky] }));
    if (req.url === "/api/client/outcomes") {
      if (outcomesMissing) return void res.writeHead(404).end();
      if (outcomesDown > 0 && outcomesDown--) return void res.writeHead(503).end();
      reports.push(JSON.parse(body));
    }
    res.writeHead(202).end();
  });
  api.listen(0, "127.0.0.1");
  await once(api, "listening");
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/api`;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) s.close();
  reports.length = 0;
  outcomesMissing = false;
});
afterAll(() => api.close());

async function flagClient(): Promise<FlagClient & { errors: Error[] }> {
  const client = createFlagClient({
    url: apiUrl,
    token: TOKEN,
    appName: "shop",
    streaming: false,
    metricsInterval: 0,
    outcomesInterval: 0,
  });
  const errors: Error[] = [];
  client.on("error", (e) => errors.push(e));
  clients.push(client);
  await client.ready();
  return Object.assign(client, { errors });
}

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends one request per user; answers the statuses. */
async function send(url: string, users: string[], init: RequestInit = {}): Promise<number[]> {
  const statuses: number[] = [];
  for (const user of users) {
    const res = await fetch(url, { ...init, headers: { "x-user": user, ...init.headers } });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

/** Sums every report's sides for a flag. */
function totals(name: string) {
  const sum = { on: { requests: 0, errors: 0 }, off: { requests: 0, errors: 0 } };
  for (const r of reports)
    for (const side of ["on", "off"] as const) {
      sum[side].requests += r.flags[name]?.[side]?.requests ?? 0;
      sum[side].errors += r.flags[name]?.[side]?.errors ?? 0;
    }
  return sum;
}

const users = ["on-1", "on-2", "on-3", "off-1", "off-2"];

describe("request outcomes for guarded rollouts", () => {
  it("node:http: attributes each request to the side of the flag it saw, with its status", async () => {
    const flags = await flagClient();
    const url = await listen(
      createServer(
        withFlagOutcomes(flags, async (req, res) => {
          await sleep(1); // the request is still found after an await
          const on = flags.isEnabled("risky", { userId: String(req.headers["x-user"]) });
          res.writeHead(on ? 500 : 200).end();
        }),
      ),
    );
    expect(await send(url, users)).toEqual([500, 500, 500, 200, 200]);
    await send(url, ["nobody"], { headers: { "x-skip": "1" } });
    await flags.requests.flush();
    expect(totals("risky")).toEqual({ on: { requests: 3, errors: 3 }, off: { requests: 3, errors: 0 } });
    expect(reports[0]!.appName).toBe("shop");
    const latency = reports[0]!.flags.risky!.on!.latency;
    expect(latency.reduce((n, [, c]) => n + c, 0)).toBe(3);
  });

  it("Express: after the body parser, through async handlers; a thrown handler is a failure", async () => {
    const flags = await flagClient();
    const app = express();
    app.use(express.json());
    app.use(flagOutcomes(flags));
    app.post("/pay", async (req, res) => {
      await sleep(1);
      const on = flags.isEnabled("risky", { userId: req.body.user });
      if (on) throw new Error("the new payment path broke");
      res.json({ ok: true });
    });
    const url = await listen(createServer(app));
    const statuses = [];
    for (const user of users)
      statuses.push(
        (
          await fetch(`${url}/pay`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user }),
          })
        ).status,
      );
    expect(statuses).toEqual([500, 500, 500, 200, 200]);
    await flags.requests.flush();
    expect(totals("risky")).toEqual({ on: { requests: 3, errors: 3 }, off: { requests: 2, errors: 0 } });
  });

  it("Fastify: every route, bodies parsed, async handlers", async () => {
    const flags = await flagClient();
    const app = Fastify();
    fastifyFlagOutcomes(app, flags);
    app.post("/pay", async (request, reply) => {
      await sleep(1);
      const on = flags.isEnabled("risky", { userId: (request.body as { user: string }).user });
      return reply.code(on ? 503 : 200).send({ on });
    });
    await app.listen({ port: 0, host: "127.0.0.1" });
    servers.push(app.server);
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (const user of users)
      await fetch(`${url}/pay`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user }),
      }).then((r) => r.arrayBuffer());
    await flags.requests.flush();
    expect(totals("risky")).toEqual({ on: { requests: 3, errors: 3 }, off: { requests: 2, errors: 0 } });
    await app.close();
  });

  it("track: by hand, and evaluations outside any request are not attributed", async () => {
    const flags = await flagClient();
    flags.isEnabled("risky", { userId: "on-9" });
    flags.track({ risky: true }, { failed: true, latencyMs: 12 });
    flags.track({ risky: false }, { failed: false, latencyMs: 3 });
    await flags.requests.flush();
    expect(totals("risky")).toEqual({ on: { requests: 1, errors: 1 }, off: { requests: 1, errors: 0 } });
    expect(reports[0]!.flags.risky!.on!.latency).toEqual([[12, 1]]);
  });

  it("keeps outcomes across a failed report, and stops sending to a server without the route", async () => {
    const flags = await flagClient();
    flags.track({ risky: true }, { failed: true, latencyMs: 1 });
    outcomesDown = 1;
    await flags.requests.flush();
    expect(reports).toEqual([]);
    flags.track({ risky: false }, { failed: false, latencyMs: 1 });
    await flags.requests.flush();
    expect(totals("risky")).toEqual({ on: { requests: 1, errors: 1 }, off: { requests: 1, errors: 0 } });
    reports.length = 0;

    flags.track({ risky: true }, { failed: false, latencyMs: 1 });
    outcomesMissing = true;
    await flags.requests.flush();
    await sleep(1);
    expect(flags.errors.map((e) => e.message).join()).toMatch(/takes no request outcomes.*not sent again/);
    outcomesMissing = false;
    flags.track({ risky: true }, { failed: false, latencyMs: 1 });
    await flags.requests.flush();
    expect(reports).toEqual([]);
  });

  it("buckets latencies to two significant digits, as the router does", () => {
    expect([0.01, 0.5, 1, 1.04, 9.99, 12.1, 99.5, 101, 1234, 1e9].map(latencyBucket)).toEqual([
      0.1, 0.5, 1, 1.1, 10, 13, 100, 110, 1300, 600_000,
    ]);
  });
});
