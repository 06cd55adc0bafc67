import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  type Payment,
  type PaymentRequestV1,
  PaymentStore,
  paymentsApi,
  paymentsV2,
} from "../test-support/versioning-payments.js";
import { apiVersioning, type ResolvedVersion } from "./api-versioning.js";
import { VersionTransformError } from "./version-chain.js";

const req = (url: string, headers: Record<string, string> = {}, method = "POST") => ({
  method,
  url,
  headers,
});
const resolved = (r: ReturnType<ReturnType<typeof paymentsApi>["resolve"]>): ResolvedVersion => {
  if (!r.ok) throw new Error(r.body.error);
  return r;
};

describe("the payments v1 → v2 change", () => {
  it("round-trips a v1 request through the canonical model back to the v1 response shape", () => {
    const api = paymentsApi(new Registry());
    const store = new PaymentStore();
    const v1: PaymentRequestV1 = { amount: 1250, currency: "EUR", customer_id: "cus_1" };
    const r = resolved(api.resolve(req("/payments", { "api-version": "v1" })));
    const canonical = api.upgradeRequest(v1, r);
    expect(canonical).toEqual({
      amount: { value: 1250, currency: "EUR" },
      customer: { id: "cus_1", email: null },
    });
    const created = store.create(canonical as never) as Payment;
    expect(api.downgradeResponse(created, r, 201)).toEqual({
      id: "pay_1",
      status: "succeeded",
      amount: 1250,
      currency: "EUR",
      customer_id: "cus_1",
    });
  });

  it("leaves a v2 request and response as they are, and the change's own transforms are inverse", () => {
    const api = paymentsApi(new Registry());
    const r = resolved(api.resolve(req("/payments")));
    expect(r.version).toBe("v2");
    const v2 = { amount: { value: 5, currency: "USD" }, customer: { id: "c", email: "a@b.c" } };
    expect(api.upgradeRequest(v2, r)).toBe(v2);
    const payment = { id: "p", status: "succeeded", ...v2 };
    expect(api.downgradeResponse(payment, r, 200)).toBe(payment);
    // down(up(x)) keeps every v1 field.
    const v1 = { amount: 7, currency: "GBP", customer_id: "cus_9" };
    const up = paymentsV2.request!(v1, {
      method: "POST",
      path: "/payments",
      version: "v1",
      clientId: undefined,
    });
    const down = paymentsV2.response!(
      { id: "p", status: "succeeded", ...(up as object) },
      { method: "POST", path: "/payments", version: "v1", clientId: undefined },
    );
    expect(down).toEqual({ id: "p", status: "succeeded", ...v1 });
  });

  it("applies a change only to its routes, and only to 2xx responses", () => {
    const api = paymentsApi(new Registry());
    const other = resolved(api.resolve(req("/refunds", { "api-version": "v1" })));
    expect(api.upgradeRequest({ amount: 1 }, other)).toEqual({ amount: 1 });
    const r = resolved(api.resolve(req("/payments/pay_1", { "api-version": "v1" }, "GET")));
    const error = { error: "no such payment" };
    expect(api.downgradeResponse(error, r, 404)).toBe(error);
  });
});

describe("version resolution", () => {
  it("reads the header, then the path, then the client's pin, else the latest", () => {
    const api = paymentsApi(new Registry());
    const of = (url: string, headers: Record<string, string> = {}) => {
      const r = resolved(api.resolve(req(url, headers)));
      return [r.version, r.source, r.url];
    };
    expect(of("/api/v1/payments?x=1", { "api-version": "v2" })).toEqual([
      "v2",
      "header",
      "/api/payments?x=1",
    ]);
    expect(of("/api/v1/payments?x=1")).toEqual(["v1", "path", "/api/payments?x=1"]);
    expect(of("/api/v1")).toEqual(["v1", "path", "/api"]);
    expect(of("/api/payments", { "x-client-id": "acme" })).toEqual(["v1", "pin", "/api/payments"]);
    expect(of("/api/payments", { "x-client-id": "globex" })).toEqual(["v2", "default", "/api/payments"]);
    expect(of("/apiv1/payments")).toEqual(["v2", "default", "/apiv1/payments"]);
  });

  it("follows a configured order and default", () => {
    const api = paymentsApi(new Registry(), { order: ["pin", "header"], defaultVersion: "v1" });
    const r = resolved(api.resolve(req("/p", { "api-version": "v2", "x-client-id": "acme" })));
    expect([r.version, r.source]).toEqual(["v1", "pin"]);
    expect(resolved(api.resolve(req("/api/v2/p"))).version).toBe("v1"); // path not in the order
  });

  it("answers an unknown version with a 400 that names it and lists the supported ones", () => {
    const api = paymentsApi(new Registry());
    for (const [r, source] of [
      [api.resolve(req("/payments", { "api-version": "2019-01-01" })), "header"],
      [api.resolve(req("/api/v9/payments")), "path"],
    ] as const) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ supported: ["v1", "v2"], source });
      expect(r.body.error).toMatch(/unknown API version "(2019-01-01|v9)".*supported: v1, v2/);
    }
  });

  it("answers 500 when the pin lookup throws, rather than serve a pinned client the latest", () => {
    const errors: string[] = [];
    const api = paymentsApi(new Registry(), {
      pinnedVersion: () => {
        throw new Error("pin store down");
      },
      onError: (e) => errors.push(e.message),
    });
    const r = api.resolve(req("/api/payments", { "x-client-id": "acme" }));
    expect(r).toMatchObject({ ok: false, status: 500, body: { supported: ["v1", "v2"] } });
    expect(errors).toEqual(["pin store down"]);
    expect(resolved(api.resolve(req("/api/v1/payments", { "x-client-id": "acme" }))).version).toBe("v1");
  });

  it("refuses a configuration that names versions it does not serve", () => {
    expect(() => apiVersioning({ versions: ["v1"], defaultVersion: "v0", registry: new Registry() })).toThrow(
      /defaultVersion "v0" is not one of v1/,
    );
    expect(() =>
      apiVersioning({
        versions: ["v1", "v2"],
        changes: [{ ...paymentsV2, version: "v3" }],
        registry: new Registry(),
      }),
    ).toThrow(/names version "v3", which is not one of v1, v2/);
    expect(() =>
      apiVersioning({
        versions: ["v1", "v2"],
        changes: [{ ...paymentsV2, version: "v1" }],
        registry: new Registry(),
      }),
    ).toThrow(/the oldest version/);
  });
});

describe("retirement headers and usage counters", () => {
  it("sends Deprecation (RFC 9745), Sunset (RFC 8594) and their Links with v1 only", () => {
    const api = paymentsApi(new Registry());
    const v1 = resolved(api.resolve(req("/api/v1/payments")));
    expect(v1.headers).toEqual({
      "api-version": "v1",
      vary: "api-version",
      deprecation: `@${Date.parse("2026-01-01T00:00:00Z") / 1000}`,
      sunset: "Wed, 30 Jun 2027 00:00:00 GMT",
      link: '<https://docs.example/v2>; rel="deprecation", <https://docs.example/v2>; rel="sunset"',
    });
    expect(resolved(api.resolve(req("/api/v2/payments"))).headers).toEqual({
      "api-version": "v2",
      vary: "api-version",
    });
  });

  it("counts per version and per client, with the client label set capped", async () => {
    const registry = new Registry();
    const api = paymentsApi(registry, { maxClients: 2 });
    for (const client of ["acme", "acme", "globex", "initech", "umbrella"])
      api.resolve(req("/api/payments", { "x-client-id": client }));
    api.resolve(req("/api/v1/payments"));
    api.resolve(req("/api/v7/payments"));
    const text = await registry.metrics();
    expect(text).toContain('baton_api_requests_total{api="payments",version="v1",source="pin"} 2');
    expect(text).toContain('baton_api_requests_total{api="payments",version="v1",source="path"} 1');
    expect(text).toContain('baton_api_requests_total{api="payments",version="v2",source="default"} 3');
    expect(text).toContain('baton_api_client_requests_total{api="payments",version="v1",client="acme"} 2');
    expect(text).toContain('baton_api_client_requests_total{api="payments",version="v2",client="globex"} 1');
    expect(text).toContain('baton_api_client_requests_total{api="payments",version="v2",client="(other)"} 2');
    expect(text).toContain('baton_api_unknown_version_total{api="payments"} 1');
  });
});

describe("transform errors", () => {
  it("are VersionTransformErrors naming the change, answered 400 (request) or 500 (response)", () => {
    const api = paymentsApi(new Registry());
    const r = resolved(api.resolve(req("/payments", { "api-version": "v1" })));
    let thrown: unknown;
    try {
      api.upgradeRequest(null, r);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(VersionTransformError);
    expect((thrown as Error).message).toMatch(/cannot read a v1 body as v2 \(change "amount becomes/);
    expect(api.failure(thrown, r, "request")).toMatchObject({ status: 400, body: { version: "v1" } });
    expect(() => api.downgradeResponse({ id: "p" }, r, 200)).toThrow(/cannot write a v2 body as v1/);
    expect(api.failure(new Error("x"), r, "response").status).toBe(500);
  });
});
