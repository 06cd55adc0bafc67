import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import Fastify from "fastify";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type PaymentRequest,
  PaymentStore,
  paymentsApi,
  paymentsV2,
  SUNSET,
} from "../test-support/versioning-payments.js";
import type { ApiChange, ApiVersioning } from "./api-versioning.js";
import { expressApiVersioning } from "./express-api-versioning.js";
import { fastifyApiVersioning } from "./fastify-api-versioning.js";
import { httpApiVersioning } from "./http-api-versioning.js";

/** A change with a bug in its response transform: the server must answer 500, and live on. */
const buggy: ApiChange = {
  version: "v2",
  description: "a change with a bug",
  routes: ["GET /broken"],
  response: () => {
    throw new Error("bug in the change");
  },
};

interface Started {
  url: string;
  close(): Promise<void>;
}
type Starter = (api: ApiVersioning, store: PaymentStore) => Promise<Started>;

async function listening(server: Server): Promise<Started> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** The same payments service on each framework: one handler per route, in the canonical model. */
const frameworks: Record<string, Starter> = {
  "node:http": (api, store) =>
    listening(
      createServer(
        httpApiVersioning(api, (req) => {
          if (req.method === "POST" && req.path === "/api/payments") {
            const out = store.create(req.body as PaymentRequest);
            return { status: "error" in out ? 400 : 201, body: out };
          }
          const m = /^\/api\/payments\/([^/]+)$/.exec(req.path);
          if (m) {
            const p = store.get(m[1]!);
            return p ? { body: p } : { status: 404, body: { error: "no such payment" } };
          }
          if (req.path === "/api/broken") return { body: { ok: true } };
          if (req.path === "/api/throws") throw new Error("handler bug");
          return { status: 404, body: { error: "not found" } };
        }),
      ),
    ),
  express: (api, store) => {
    const app = express();
    app.use(express.json());
    app.use(expressApiVersioning(api));
    app.post("/api/payments", (req, res) => {
      const out = store.create(req.body as PaymentRequest);
      res.status("error" in out ? 400 : 201).json(out);
    });
    app.get("/api/payments/:id", (req, res) => {
      const p = store.get(req.params.id);
      if (p) res.json(p);
      else res.status(404).json({ error: "no such payment" });
    });
    app.get("/api/broken", (_req, res) => {
      res.send({ ok: true }); // res.send(object) goes through res.json too
    });
    return listening(createServer(app));
  },
  fastify: async (api, store) => {
    const app = Fastify({ rewriteUrl: api.rewriteUrl });
    await app.register(fastifyApiVersioning(api));
    app.post("/api/payments", async (request, reply) => {
      const out = store.create(request.body as PaymentRequest);
      reply.code("error" in out ? 400 : 201);
      return out;
    });
    app.get<{ Params: { id: string } }>("/api/payments/:id", async (request, reply) => {
      const p = store.get(request.params.id);
      if (p) return p;
      reply.code(404);
      return { error: "no such payment" };
    });
    app.get("/api/broken", async () => ({ ok: true }));
    const url = await app.listen({ port: 0, host: "127.0.0.1" });
    return { url, close: () => app.close() };
  },
};

describe.each(Object.entries(frameworks))("payments v1/v2 on %s", (_name, start) => {
  const registry = new Registry();
  const errors: Error[] = [];
  let server: Started;
  beforeAll(async () => {
    const api = paymentsApi(registry, { onError: (e) => errors.push(e), changes: [paymentsV2, buggy] });
    server = await start(api, new PaymentStore());
  });
  afterAll(() => server?.close());

  const call = async (
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ) => {
    const res = await fetch(`${server.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: {
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        ...init.headers,
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };

  it("serves v1 (path) and v2 (header) with one handler, v1 with Deprecation and Sunset headers", async () => {
    const v1 = await call("/api/v1/payments", {
      body: { amount: 1250, currency: "EUR", customer_id: "cus_1" },
    });
    expect(v1.status).toBe(201);
    expect(v1.body).toEqual({
      id: "pay_1",
      status: "succeeded",
      amount: 1250,
      currency: "EUR",
      customer_id: "cus_1",
    });
    expect(v1.headers.get("api-version")).toBe("v1");
    expect(v1.headers.get("deprecation")).toBe(`@${Date.parse("2026-01-01T00:00:00Z") / 1000}`);
    expect(v1.headers.get("sunset")).toBe(new Date(SUNSET).toUTCString());
    expect(v1.headers.get("link")).toContain('rel="sunset"');

    const v2 = await call("/api/payments", {
      headers: { "api-version": "v2" },
      body: { amount: { value: 99, currency: "USD" }, customer: { id: "cus_2", email: "a@example.com" } },
    });
    expect(v2.status).toBe(201);
    expect(v2.body).toEqual({
      id: "pay_2",
      status: "succeeded",
      amount: { value: 99, currency: "USD" },
      customer: { id: "cus_2", email: "a@example.com" },
    });
    expect(v2.headers.get("sunset")).toBeNull();
    expect(v2.headers.get("deprecation")).toBeNull();
  });

  it("reads a payment made in v2 as v1 for a client pinned to v1, and keeps errors as they are", async () => {
    const pinned = await call("/api/payments/pay_2", { headers: { "x-client-id": "acme" } });
    expect(pinned.body).toEqual({
      id: "pay_2",
      status: "succeeded",
      amount: 99,
      currency: "USD",
      customer_id: "cus_2",
    });
    const missing = await call("/api/v1/payments/pay_404");
    expect([missing.status, missing.body]).toEqual([404, { error: "no such payment" }]);
  });

  it("answers an unknown version with 400 listing the supported ones", async () => {
    for (const init of [{ headers: { "api-version": "v3" } }, {}]) {
      const r = await call(init.headers ? "/api/payments" : "/api/v3/payments", init);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ received: "v3", supported: ["v1", "v2"] });
    }
  });

  it("answers 400 for a body a change cannot read and 500 for a change with a bug, and keeps serving", async () => {
    const bad = await call("/api/v1/payments", { body: { amount: "12", currency: "EUR" } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/cannot read a v1 body as v2 .*amount must be a number/);
    const broken = await call("/api/v1/broken");
    expect(broken.status).toBe(500);
    expect(broken.body.error).toMatch(/could not be written in API version v1/);
    expect(errors.map((e) => e.message).join("\n")).toMatch(
      /change "a change with a bug"\): bug in the change/,
    );
    expect((await call("/api/v2/broken")).body).toEqual({ ok: true });
  });

  it("counts usage per version and client", async () => {
    await call("/api/payments/pay_1", { headers: { "x-client-id": "globex" } });
    const text = await registry.metrics();
    expect(text).toMatch(/baton_api_requests_total\{api="payments",version="v1",source="path"\} [1-9]/);
    expect(text).toContain('baton_api_client_requests_total{api="payments",version="v1",client="acme"} 1');
    expect(text).toContain('baton_api_client_requests_total{api="payments",version="v2",client="globex"} 1');
    expect(text).toContain('baton_api_unknown_version_total{api="payments"} 2');
  });
});

describe("the node:http adapter", () => {
  it("answers 500 for a handler that throws, 400 for a body that is not JSON, 413 past maxBodyBytes", async () => {
    const api = paymentsApi(new Registry());
    const server = await listening(
      createServer(
        httpApiVersioning(
          api,
          () => {
            throw new Error("handler bug");
          },
          { maxBodyBytes: 1000 },
        ),
      ),
    );
    try {
      const post = (body: string) => fetch(`${server.url}/api/v2/payments`, { method: "POST", body });
      const thrown = await post("{}");
      expect([thrown.status, await thrown.json()]).toEqual([
        500,
        { error: "internal error (logged)", version: "v2" },
      ]);
      const notJson = await post("{nope");
      expect(notJson.status).toBe(400);
      expect(((await notJson.json()) as { error: string }).error).toMatch(/not JSON/);
      const huge = await post(JSON.stringify({ pad: "x".repeat(5000) }));
      expect(huge.status).toBe(413);
    } finally {
      await server.close();
    }
  });
});
