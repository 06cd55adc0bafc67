import { chmod, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../router/src/test-support/load.js";
import { hashToken, startApi } from "./api-server.js";
import { ControlPlane } from "./control-plane.js";
import { RouterAdmin } from "./router-admin.js";
import { parseServiceFile } from "./service-file.js";
import { testSchema } from "./test-support/test-database.js";

const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));
const TOKEN = "api-token-0123456789abcdef";
const file = parseServiceFile(`
service: echo
listen: 8080
instances: 2
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
canary:
  steps: [ { weight: 20, pause: 1s }, { weight: 100 } ]
analysis: { minRequests: 50 }
stickiness: { header: x-user-id }
drain: { timeout: 2s }
`);

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
let router: Router;
let plane: ControlPlane;
let api: { server: Server; url: string };

async function call(method: string, path: string, body?: unknown, token = TOKEN) {
  const res = await request(`${api.url}${path}`, {
    method: method as "GET",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as any };
}

beforeAll(async () => {
  env = await testSchema("api");
  dir = await mkdtemp(join(tmpdir(), "baton-api-"));
  await chmod(dir, 0o755);
  router = await createRouter(
    { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
    { logger: silentLogger },
  );
  plane = new ControlPlane({
    file,
    db: env.db,
    router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
    routerUrl: `http://127.0.0.1:${router.address.port}`,
    dataDir: dir,
  });
  await plane.init();
  api = await startApi(plane, { host: "127.0.0.1", port: 0, tokenSha256: hashToken(TOKEN) });
});
afterAll(async () => {
  api?.server.close();
  await plane?.stopAll();
  await router?.close();
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("control plane API", () => {
  it("needs the token, and will not listen beyond loopback without one", async () => {
    expect((await call("GET", "/v1/status", undefined, "")).status).toBe(401);
    expect((await call("GET", "/v1/status", undefined, "wrong-token-wrong-token")).status).toBe(401);
    await expect(startApi(plane, { host: "0.0.0.0", port: 0 })).rejects.toThrow(/without a token/);
  });

  it("deploys a first version, then a canary, refusing a second deploy meanwhile", async () => {
    const first = await call("POST", "/v1/deploy", { version: "v1", dir: ECHO_DIR, actor: "alice" });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ strategy: "initial", version: "v1" });
    const firstDone = await call("GET", `/v1/releases/${first.body.id}?wait=1`);
    expect(firstDone.body.release.status).toBe("succeeded");
    const served = await request(`http://127.0.0.1:${router.address.port}/`);
    await served.body.dump();
    expect(served.headers["x-baton-version"]).toBe("v1");

    const load = startLoad({
      url: `http://127.0.0.1:${router.address.port}/`,
      rate: 300,
      concurrency: 12,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    const second = await call("POST", "/v1/deploy", { version: "v2", dir: ECHO_DIR, actor: "bob" });
    expect(second.status).toBe(202);
    expect(second.body.strategy).toBe("canary");
    const third = await call("POST", "/v1/deploy", { version: "v3", dir: ECHO_DIR });
    expect(third.status).toBe(409);
    expect(third.body.error.code).toBe("BATON_RELEASE_IN_PROGRESS");

    const done = await call("GET", `/v1/releases/${second.body.id}?wait=1`);
    const r = await load.stop();
    expect(done.body.release.status).toBe("succeeded");
    expect(done.body.decisions.some((d: { decision: string }) => d.decision === "pass")).toBe(true);
    expect(r.failed).toBe(0);
    const status = await call("GET", "/v1/status");
    expect(status.body.serving.version).toBe("v2");
    expect((await call("GET", "/v1/releases")).body.map((x: { version: string }) => x.version)).toEqual([
      "v2",
      "v1",
    ]);
    expect((await call("GET", "/v1/audit/verify")).body.problems).toEqual([]);
  }, 60_000);

  it("answers bad requests with what is wrong", async () => {
    expect((await call("POST", "/v1/deploy", { version: "v 4", dir: ECHO_DIR })).body.error.message).toMatch(
      /^version: must be/,
    );
    const unknown = await call("POST", "/v1/deploy", { version: "v4" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toMatch(/^unknown version v4 of echo: it was never released/);
    expect(
      (await call("POST", "/v1/deploy", { version: "v4", dir: "relative/dir" })).body.error.message,
    ).toMatch(/^dir: must be the absolute path/);
    expect((await call("POST", "/v1/deploy", { dir: "/nonexistent/x" })).body.error.message).toMatch(
      /is not a directory/,
    );
    // A web page's "simple" cross-origin POST (text/plain, no preflight) is refused.
    const simple = await request(`${api.url}/v1/deploy`, {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ version: "v4", dir: ECHO_DIR }),
    });
    expect(simple.statusCode).toBe(415);
    await simple.body.dump();
    const traversal = await call("GET", "/v1/logs?version=../../etc");
    expect(traversal.status).toBe(400);
    const before = await call("GET", "/v1/releases");
    const promote = await call("POST", "/v1/promote");
    expect(promote.status).toBe(409);
    expect(promote.body.error.code).toBe("BATON_NO_RELEASE_RUNNING");
    // None of them changed anything.
    expect((await call("GET", "/v1/releases")).body).toEqual(before.body);
  });

  it("answers malformed input with 400 BATON_BAD_REQUEST naming the field, never a 500", async () => {
    const before = await call("GET", "/v1/releases");
    const raw = async (method: string, path: string, body?: string) => {
      const res = await request(`${api.url}${path}`, {
        method: method as "GET",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        ...(body === undefined ? {} : { body }),
      });
      return { status: res.statusCode, body: (await res.body.json()) as any };
    };
    const cases: [string, string, string | undefined, string, RegExp][] = [
      ["POST", "/v1/deploy", "null", "body", /body must be a JSON object/],
      ["POST", "/v1/deploy", "[]", "body", /body must be a JSON object/],
      ["POST", "/v1/deploy", '"v1"', "body", /body must be a JSON object/],
      ["POST", "/v1/deploy", "{", "body", /not JSON/],
      ["POST", "/v1/deploy", JSON.stringify({ version: "v4", dir: ECHO_DIR, env: ["A=1"] }), "env", /^env: /],
      ["POST", "/v1/deploy", JSON.stringify({ version: "v4", dir: ECHO_DIR, env: null }), "env", /^env: /],
      [
        "POST",
        "/v1/deploy",
        `{"version":"v4","dir":${JSON.stringify(ECHO_DIR)},"env":{"__proto__":"x"}}`,
        "env",
        /__proto__/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { A: "x\u0000y" } }),
        "env.A",
        /NUL/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { A: 1 } }),
        "env.A",
        /strings/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { "A\u0000B": "x" } }),
        "env",
        /names must be/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { "1BAD": "x" } }),
        "env",
        /names must be/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { "A-B": "x" } }),
        "env",
        /names must be/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, colour: "red" }),
        "colour",
        /unknown field "colour"/,
      ],
      ["POST", "/v1/deploy", JSON.stringify({ version: "v4", dir: `${ECHO_DIR}\u0000x` }), "dir", /NUL/],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", instances: ["127.0.0.1:99999"] }),
        "instances.0",
        /1-65535/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, actor: "a\nb" }),
        "actor",
        /control/,
      ],
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: ECHO_DIR, strategy: "sideways" }),
        "strategy",
        /rolling, blue-green or canary/,
      ],
      ["POST", "/v1/abort", JSON.stringify({ actor: "x", force: true }), "force", /unknown field "force"/],
      ["POST", "/v1/rollback", "null", "body", /body must be a JSON object/],
      ["GET", "/v1/releases?limit=-1", undefined, "limit", /^limit: must be a whole number from 1 to 1000/],
      ["GET", "/v1/releases?limit=abc", undefined, "limit", /^limit: /],
      ["GET", "/v1/releases?limit=0", undefined, "limit", /^limit: /],
      ["GET", "/v1/releases?limit=1&limit=2", undefined, "limit", /more than once/],
      ["GET", "/v1/releases?lmit=5", undefined, "lmit", /unknown parameter "lmit"/],
      ["GET", "/v1/releases/12345678901234567890", undefined, "id", /release id must be a whole number/],
      ["GET", "/v1/releases/0", undefined, "id", /release id/],
      ["GET", "/v1/releases/1?wait=yes", undefined, "wait", /^wait: /],
      ["GET", "/v1/logs?lines=abc", undefined, "lines", /^lines: /],
      ["GET", "/v1/logs?lines=", undefined, "lines", /^lines: /],
      ["GET", "/v1/logs?lines=-3", undefined, "lines", /^lines: /],
      ["GET", "/v1/logs?version=..", undefined, "version", /^version: must be 1-64/],
    ];
    for (const version of [
      ".",
      "..",
      ".hidden",
      "a/b",
      "../x",
      "v\u0000",
      "v\n1",
      "v\u007f",
      "x".repeat(65),
      "",
      7,
    ])
      cases.push(["POST", "/v1/deploy", JSON.stringify({ version, dir: ECHO_DIR }), "version", /^version: /]);
    for (const [method, path, body, field, message] of cases) {
      const r = await raw(method, path, body);
      const what = `${method} ${path} ${body ?? ""}: ${JSON.stringify(r.body)}`;
      expect(r.status, what).toBe(400);
      expect(r.body.error.code, what).toBe("BATON_BAD_REQUEST");
      expect(r.body.error.field, what).toBe(field);
      expect(r.body.error.message, what).toMatch(message);
    }
    // A release id JavaScript holds exactly but no release has: 404, not a database error.
    const missing = await call("GET", "/v1/releases/9007199254740991");
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("BATON_UNKNOWN_RELEASE");
    // None of them changed anything.
    expect((await call("GET", "/v1/releases")).body).toEqual(before.body);
  });

  it("refuses an oversized body with 413 without reading it all", async () => {
    const big = JSON.stringify({ version: "v4", dir: ECHO_DIR, env: { A: "x".repeat(2 * 1024 * 1024) } });
    const res = await request(`${api.url}/v1/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: big,
    });
    expect(res.statusCode).toBe(413);
    expect(((await res.body.json()) as any).error.code).toBe("BATON_BODY_TOO_LARGE");
    // Sent without a length (chunked): refused as it arrives.
    const chunked = await request(`${api.url}/v1/deploy`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: Readable.from(
        (function* () {
          for (let i = 0; i < 40; i++) yield Buffer.alloc(64 * 1024, 0x20);
        })(),
      ),
    }).catch((err: Error) => err);
    if (!(chunked instanceof Error)) {
      expect(chunked.statusCode).toBe(413);
      await chunked.body.dump();
    }
    // The API still answers.
    expect((await call("GET", "/v1/status")).status).toBe(200);
  });
});
