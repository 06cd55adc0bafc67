import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { gracefulShutdown } from "../shutdown/graceful-shutdown.js";
import { silentShutdownLogger } from "../shutdown/shutdown-logger.js";
import { httpGet } from "../test-support/shutdown-clients.js";
import { expressHealth } from "./express-health.js";
import { fastifyHealth } from "./fastify-health.js";
import { health } from "./health.js";

const failing = {
  name: "search",
  critical: false,
  run: async () => Promise.reject(new Error("search down")),
};

describe("Express and Fastify", () => {
  it("Express: the middleware answers the probes, the app the rest, and gracefulShutdown drains app.listen()'s server", async () => {
    const h = health({ checks: [failing] });
    const app = express();
    app.use(expressHealth(h));
    app.get("/slow", (_req, res) => void setTimeout(() => res.send("slow done"), 300));
    app.use("/admin", expressHealth(h)); // mounted: matched on the full path, so not a probe
    app.get("/admin/readyz", (_req, res) => void res.send("admin page"));
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const ready = await httpGet(`${url}/readyz`, false);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({
      status: "degraded",
      checks: [{ name: "search", status: "failed", error: "search down" }],
    });
    expect((await httpGet(`${url}/admin/readyz`, false)).body).toBe("admin page");

    const shutdown = gracefulShutdown(server, {
      signals: [],
      exit: false,
      health: h,
      preStopMs: 100,
      logger: silentShutdownLogger,
    });
    const slow = httpGet(`${url}/slow`, false);
    await new Promise((r) => server.once("request", r));
    const report = shutdown.shutdown();
    expect((await httpGet(`${url}/readyz`, false)).status).toBe(503);
    expect(await slow).toMatchObject({ status: 200, body: "slow done", connection: "close" });
    expect((await report).exitCode).toBe(0);
  });

  it("Fastify: the plugin answers the probes (under a prefix too), and gracefulShutdown takes the instance", async () => {
    const h = health({ checks: [failing] });
    const app = Fastify();
    await app.register(fastifyHealth(h));
    await app.register(fastifyHealth(h), { prefix: "/internal" });
    app.get("/slow", async () => {
      await new Promise((r) => setTimeout(r, 300));
      return { slow: "done" };
    });
    const url = await app.listen({ port: 0, host: "127.0.0.1" });

    for (const path of ["/readyz", "/internal/readyz"]) {
      const r = await httpGet(`${url}${path}`, false);
      expect([r.status, JSON.parse(r.body).status]).toEqual([200, "degraded"]);
    }
    expect((await httpGet(`${url}/livez`, false)).status).toBe(200);
    const head = await fetch(`${url}/startupz`, { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);

    const shutdown = gracefulShutdown(app, {
      signals: [],
      exit: false,
      health: h,
      preStopMs: 100,
      logger: silentShutdownLogger,
      hooks: [{ name: "fastify", run: () => app.close() }],
    });
    const slow = httpGet(`${url}/slow`, false);
    await new Promise((r) => (app.server as Server).once("request", r));
    const report = shutdown.shutdown();
    expect((await httpGet(`${url}/readyz`, false)).status).toBe(503);
    expect(await slow).toMatchObject({ status: 200, body: '{"slow":"done"}', connection: "close" });
    const r = await report;
    expect(r.hooks).toMatchObject([{ name: "fastify", ok: true }]);
    expect(r.exitCode).toBe(0);
  });
});
