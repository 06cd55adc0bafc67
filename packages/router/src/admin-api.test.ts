import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { admin } from "./test-support/admin-client.js";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { type RouterFixture, startRouter, waitFor } from "./test-support/router-fixture.js";
import { type RouterProcess, startRouterProcess } from "./test-support/router-process.js";
import { tempDir } from "./test-support/temp-dir.js";

const TOKEN = "s3cret-admin-token-0123456789";
let a: EchoInstance;
let b: EchoInstance;
let fx: RouterFixture;
const svc = (version: string, address: string, extra: Record<string, unknown> = {}) => ({
  name: "api",
  tracks: { stable: { version, weight: 10_000, instances: [address] } },
  ...extra,
});

beforeAll(async () => {
  [a, b] = await Promise.all([startEcho({ BATON_VERSION: "v1" }), startEcho({ BATON_VERSION: "v2" })]);
  fx = await startRouter([svc("v1", a.address)], { admin: { listen: "127.0.0.1:0", token: TOKEN } });
});
afterAll(async () => {
  await fx?.close();
  await Promise.all([a?.stop(), b?.stop()]);
});

describe("admin API", () => {
  it("requires the bearer token, except for /health", async () => {
    expect((await admin(fx.adminPort, "GET", "/v1/services")).status).toBe(401);
    expect((await admin(fx.adminPort, "GET", "/metrics", undefined, "wrong-token-wrong-token")).status).toBe(
      401,
    );
    expect((await admin(fx.adminPort, "GET", "/health")).status).toBe(200);
    expect((await fx.admin("GET", "/v1/services")).body.services[0].name).toBe("api");
  });

  it("refuses a bad service with the key and reason, and changes nothing", async () => {
    const before = (await fx.admin("GET", "/v1/services/api")).body;
    const bad = await fx.admin("PUT", "/v1/services/api", {
      name: "api",
      health: { path: "/h", interval: "often" },
      tracks: { stable: { version: "v9", weight: 10_000, instances: [b.address] } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("BATON_CONFIG_INVALID");
    expect(bad.body.error.issues[0]).toMatchObject({ path: "health.interval" });
    expect((await fx.admin("PUT", "/v1/services/api", svc("v2", b.address, { name: "other" }))).status).toBe(
      400,
    );
    expect((await fx.admin("PUT", "/v1/services/api", "not an object")).status).toBe(400);
    expect((await fx.admin("GET", "/v1/services/api")).body).toEqual(before);
    expect((await fx.admin("GET", "/v1/services/nope")).status).toBe(404);
  });

  it("swaps a service atomically: every response's version matches the instance that answered", async () => {
    const agent = new Agent({ connections: 16 });
    let running = true;
    const mismatches: string[] = [];
    let count = 0;
    const load = Array.from({ length: 16 }, async () => {
      while (running) {
        const res = await request(fx.url, { dispatcher: agent });
        const body = JSON.parse(await res.body.text());
        count++;
        if (res.headers["x-baton-version"] !== body.version)
          mismatches.push(`${res.headers["x-baton-version"]}/${body.version}`);
      }
    });
    for (let i = 0; i < 40; i++) {
      const res = await fx.admin(
        "PUT",
        "/v1/services/api",
        i % 2 ? svc("v1", a.address) : svc("v2", b.address),
      );
      expect(res.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    running = false;
    await Promise.all(load);
    await agent.close();
    expect(count).toBeGreaterThan(200);
    expect(mismatches).toEqual([]);
  });

  it("reports windowed stats per track and Prometheus metrics per instance", async () => {
    for (let i = 0; i < 20; i++) await (await request(fx.url)).body.dump();
    const stats = (await fx.admin("GET", "/v1/stats/api?window=30s")).body;
    expect(stats.windowSeconds).toBe(30);
    const t = stats.tracks.find((x: { current: boolean }) => x.current);
    expect(t.requests).toBeGreaterThan(0);
    expect(t.latencyMs.p99).toBeGreaterThan(0);
    expect(t.latencyBuckets.length).toBeGreaterThan(0);
    expect((await fx.admin("GET", "/v1/stats/api?window=0")).status).toBe(400);
    const metrics = String((await fx.admin("GET", "/metrics")).body);
    expect(metrics).toMatch(
      /baton_requests_total\{service="api",track="stable",version="v1",instance="127\.0\.0\.1:\d+"\} \d+/,
    );
    expect(metrics).toContain('baton_request_duration_seconds_bucket{service="api"');
    expect(metrics).toContain("baton_instance_state{");
    expect(metrics).toContain("baton_websockets_open{");
  });

  it("creates and deletes services, refusing a host another service serves", async () => {
    const created = await fx.admin("PUT", "/v1/services/web", {
      ...svc("v1", a.address),
      name: "web",
      hosts: ["web.test"],
    });
    expect(created.status).toBe(201);
    const res = await request(fx.url, { headers: { host: "web.test:8080" } });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const clash = await fx.admin("PUT", "/v1/services/web2", {
      ...svc("v1", a.address),
      name: "web2",
      hosts: ["WEB.test"],
    });
    expect(clash.status).toBe(400);
    expect(clash.body.error.message).toContain('host "web.test" is already served by "web"');
    expect((await fx.admin("DELETE", "/v1/services/web")).status).toBe(200);
    expect((await fx.admin("GET", "/v1/services/web")).status).toBe(404);
  });
});

describe("the router process", () => {
  let proc: RouterProcess | undefined;
  afterAll(async () => {
    await proc?.stop();
  });

  it("resumes the last applied config after a crash, unless the file was edited since", async () => {
    const dir = await tempDir("state");
    const file = join(dir, "router.yaml");
    const text = `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nservices:\n  - ${JSON.stringify(svc("v1", a.address))}\n`;
    await writeFile(file, text);
    proc = await startRouterProcess(file);
    expect((await admin(proc.adminPort, "PUT", "/v1/services/api", svc("v2", b.address))).status).toBe(200);
    const saved = JSON.parse(await readFile(join(dir, ".baton", "router.yaml.state.json"), "utf8"));
    expect(saved.services[0].tracks.stable.version).toBe("v2");
    await proc.stop("SIGKILL");

    proc = await startRouterProcess(file);
    const version = async () => {
      const res = await request(`http://127.0.0.1:${proc!.port}/`);
      await res.body.dump();
      return res.headers["x-baton-version"];
    };
    expect(await version()).toBe("v2");
    await proc.stop("SIGKILL");

    await writeFile(file, `${text}# edited\n`);
    proc = await startRouterProcess(file);
    expect(await version()).toBe("v1");
    expect(proc.output()).toContain("config file changed since the saved state");
    await proc.stop(); // the next test starts its own: none may outlive the suite
    proc = undefined;
  });

  it("on SIGHUP applies a good file and refuses a bad one, keeping what it runs", async () => {
    const dir = await tempDir("hup");
    const file = join(dir, "router.yaml");
    const write = (version: string, address: string, extra = "") =>
      writeFile(
        file,
        `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\n${extra}services:\n  - ${JSON.stringify(svc(version, address))}\n`,
      );
    await write("v1", a.address);
    proc = await startRouterProcess(file);
    const version = async () => {
      const res = await request(`http://127.0.0.1:${proc!.port}/`);
      await res.body.dump();
      return res.headers["x-baton-version"];
    };
    await write("v2", b.address, "bogus: true\n");
    proc.process.kill("SIGHUP");
    await waitFor(() => proc!.output().includes("reload refused"), 5000, "reload to be refused").catch(
      (e) => {
        throw new Error(
          `${e.message} exit=${proc!.process.exitCode} signal=${proc!.process.signalCode}\n${proc!.output()}`,
        );
      },
    );
    expect(proc.output()).toContain('unknown key \\"bogus\\"');
    expect(await version()).toBe("v1");
    await write("v2", b.address);
    proc.process.kill("SIGHUP");
    await waitFor(async () => (await version()) === "v2", 5000, "reload to apply");
  });
});
