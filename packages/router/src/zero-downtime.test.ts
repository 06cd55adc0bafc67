import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { admin } from "./test-support/admin-client.js";
import { type EchoInstance, startEcho } from "./test-support/echo-instance.js";
import { startLoad } from "./test-support/load.js";
import { type RouterProcess, startRouterProcess } from "./test-support/router-process.js";
import { tempDir } from "./test-support/temp-dir.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const started: EchoInstance[] = [];
let router: RouterProcess | undefined;

afterAll(async () => {
  await router?.stop();
  await Promise.all(started.map((i) => i.stop()));
});

describe("zero downtime under load", () => {
  it("loses no GET and replays no POST while instances change, weights move 0->100 and one is SIGKILLed", async () => {
    const dir = await tempDir("zd");
    const echo = async (version: string, name: string) => {
      const i = await startEcho({ BATON_VERSION: version, RECEIVED_LOG: join(dir, `${name}.log`) });
      started.push(i);
      return i;
    };
    const [a, b, c1, c2] = await Promise.all([
      echo("v1", "a"),
      echo("v1", "b"),
      echo("v2", "c1"),
      echo("v2", "c2"),
    ]);
    const svc = (stableInstances: EchoInstance[], canaryWeight: number) => ({
      name: "payments",
      stickiness: { header: "x-user-id" },
      health: { path: "/health/ready", interval: "200ms", timeout: "500ms", rise: 2, fall: 2 },
      drain: { timeout: "5s" },
      tracks: {
        stable: {
          version: "v1",
          weight: 10_000 - canaryWeight,
          instances: stableInstances.map((i) => i.address),
        },
        canary: { version: "v2", weight: canaryWeight, instances: [c1.address, c2.address] },
      },
    });
    const configFile = join(dir, "router.yaml");
    await writeFile(
      configFile,
      `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nservices:\n  - ${JSON.stringify(svc([a, b], 0))}\n`,
    );
    router = await startRouterProcess(configFile);
    const put = async (body: unknown) => {
      const res = await admin(router!.adminPort, "PUT", "/v1/services/payments", body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    };
    // Wait for the health checks to admit every instance before the clock starts.
    await sleep(800);

    const url = `http://127.0.0.1:${router.port}/orders`;
    const gets = startLoad({
      url,
      rate: 1200,
      concurrency: 32,
      headers: (n) => ({ "x-user-id": `u${n % 5000}` }),
    });
    let postId = 0;
    const posts = startLoad({
      url,
      rate: 200,
      concurrency: 8,
      method: "POST",
      headers: () => ({
        "x-request-id": `p${++postId}`,
        "content-type": "application/json",
        "x-user-id": `pu${postId}`,
      }),
      body: () => `{"amount":${postId}}`,
    });

    await sleep(1000);
    const d = await echo("v1", "d"); // a new stable instance joins (after its health checks pass)
    await put(svc([a, b, d], 0));
    await sleep(1000);
    await put(svc([a, d], 0)); // b leaves: it drains, in-flight requests finish
    for (const w of [1000, 2500, 5000]) {
      await put(svc([a, d], w));
      await sleep(500);
    }
    await a.stop("SIGKILL"); // one of the two stable instances dies mid-traffic
    await sleep(1500);
    for (const w of [7500, 10_000]) {
      await put(svc([a, d], w));
      await sleep(500);
    }
    await sleep(1000);
    const [g, p] = await Promise.all([gets.stop(), posts.stop()]);

    // The load really was there.
    expect(g.sent / g.seconds).toBeGreaterThanOrEqual(1000);
    expect(g.byVersion.v2).toBeGreaterThan(0);
    // Not one GET failed.
    expect(g.failures).toEqual({});
    expect(g.failed).toBe(0);
    // No POST reached an application twice (a few may fail: they were in flight at the SIGKILL).
    const seen = new Map<string, number>();
    for (const name of ["a", "b", "c1", "c2", "d"]) {
      const text = await readFile(join(dir, `${name}.log`), "utf8").catch(() => "");
      for (const id of text.split("\n").filter(Boolean)) seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const twice = [...seen.entries()].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(seen.size).toBeGreaterThanOrEqual(p.ok);
    expect(p.failed).toBeLessThanOrEqual(16); // at most the POSTs in flight on the killed instance
  }, 60_000);
});
