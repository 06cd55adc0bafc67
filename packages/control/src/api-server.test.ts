import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { Ajv2020 } from "ajv/dist/2020.js";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../router/src/test-support/load.js";
import { buildApi, hashToken, type ReleaseControl, startApi } from "./api-server.js";
import { ControlPlane } from "./control-plane.js";
import {
  API_ERROR_CODES,
  BatonControlError,
  ERRORS,
  type ErrorCode,
  isErrorCode,
  statusOf,
} from "./errors.js";
import { freePort } from "./providers/free-port.js";
import { processEnv } from "./providers/process-alive.js";
import { InstancesNotReadyError } from "./providers/provider.js";
import { RouterAdmin, RouterAdminError } from "./router-admin.js";
import { parseServiceFile } from "./service-file.js";
import { pgClient } from "./state/sql-client.js";
import { openApiConformance } from "./test-support/openapi-conformance.js";
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
let api: { server: Server; url: string; close(): Promise<void> };

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
  await api?.close();
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
    const env = {
      DATABASE_URL: "postgres://app:S3cretPassw0rd@db.internal:5432/shop",
      API_TOKEN: "tok-123",
      GREETING: "hello",
      BLOB: "y".repeat(1000),
    };
    const second = await call("POST", "/v1/deploy", { version: "v2", dir: ECHO_DIR, actor: "bob", env });
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
    // The environment leaves the API redacted; the instances got the real one.
    const shown = {
      DATABASE_URL: "postgres://app:***@db.internal:5432/shop",
      API_TOKEN: "(hidden)",
      GREETING: "hello",
      BLOB: `${"y".repeat(200)}… (1000 characters)`,
    };
    expect(second.body.env).toEqual(shown);
    expect(done.body.release.env).toEqual(shown);
    expect(status.body.release.env).toEqual(shown);
    expect(JSON.stringify((await call("GET", "/v1/releases")).body)).not.toContain("S3cretPassw0rd");
    expect(processEnv(status.body.serving.instances[0].pid, "DATABASE_URL")).toBe(env.DATABASE_URL);
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
      // Nested 100,000 deep (an attacker's ~200 KB body): refused at once, naming where.
      [
        "POST",
        "/v1/deploy",
        `{"env":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
        "env",
        /^env: nested deeper than 32 levels$/,
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
      // A directory with files that cannot be read (here, the kernel's): refused, naming the file.
      [
        "POST",
        "/v1/deploy",
        JSON.stringify({ version: "v4", dir: "/proc/self" }),
        "dir",
        /^the release directory \/proc\/self cannot be released as it is: \S+ cannot be (read|listed) \(E[A-Z]+\)/,
      ],
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
      [
        "GET",
        "/v1/releases/12345678901234567890",
        undefined,
        "id",
        /^id: must be a release id: a whole number/,
      ],
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
      const what = `${method} ${path} ${(body ?? "").slice(0, 200)}: ${JSON.stringify(r.body).slice(0, 300)}`;
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

/** A raw HTTP exchange on a fresh connection: what Node's parser refuses never reaches a route. */
function rawHttp(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(text));
    let answer = "";
    socket.on("data", (d) => (answer += d));
    socket.on("close", () => resolve(answer));
    socket.on("error", reject);
  });
}
const envelopeOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4));

/** The same control plane, one of its calls failing with `err`. */
function failing(method: "history" | "status", err: unknown): ReleaseControl {
  return new Proxy(plane, {
    get(target, key) {
      if (key === method) return async () => Promise.reject(err);
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("one error envelope, one catalog", () => {
  it("gives every code exactly one status and a one-line description", () => {
    for (const [code, spec] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^BATON_[A-Z_]+$/);
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, code).toBe(true);
      expect(spec.description, code).toMatch(/^[^\n]{10,}$/);
      expect(statusOf(code as ErrorCode)).toBe(spec.status);
    }
    expect(API_ERROR_CODES).toContain("BATON_INTERNAL");
    expect(API_ERROR_CODES).not.toContain("BATON_NOT_UP");
  });

  it("holds every code raised in the control plane and the CLI", async () => {
    const raised = new Set<string>();
    for (const pkg of ["control", "cli"]) {
      const root = fileURLToPath(new URL(`../../${pkg}/src/`, import.meta.url));
      for (const name of await readdir(root, { recursive: true })) {
        if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
        const text = await readFile(join(root, name), "utf8");
        // A code as errors carry it: `code = "…"`, or the first argument of an error or super().
        for (const m of text.matchAll(/(?:\bcode\s*=\s*|Error\(\s*|super\(\s*)"(BATON_[A-Z_]+)"/g))
          raised.add(m[1]!);
      }
    }
    expect(raised.size).toBeGreaterThan(15);
    expect([...raised].filter((code) => !isErrorCode(code))).toEqual([]);
  });

  it("answers Baton's errors with the catalog's status, anything else as BATON_INTERNAL", async () => {
    const lines: string[] = [];
    const cases: [unknown, string][] = [
      [
        new RouterAdminError("router admin API at http://127.0.0.1:1 unreachable: ECONNREFUSED", true),
        "BATON_ROUTER_UNREACHABLE",
      ],
      [
        new RouterAdminError("router refused PUT /v1/services/echo (HTTP 400): bad weight"),
        "BATON_ROUTER_REFUSED",
      ],
      [
        new InstancesNotReadyError("v9", ["127.0.0.1:1: connection refused"], []),
        "BATON_INSTANCES_NOT_READY",
      ],
      [
        new BatonControlError("BATON_ILLEGAL_TRANSITION", "release 3 of v3 is succeeded"),
        "BATON_ILLEGAL_TRANSITION",
      ],
      // A local code (the CLI's, or startApi's) is not an answer: internal.
      [new BatonControlError("BATON_API_UNPROTECTED", "not an answer"), "BATON_INTERNAL"],
      [
        Object.assign(new Error("invalid byte sequence for encoding UTF8"), { code: "22021" }),
        "BATON_INTERNAL",
      ],
      [new TypeError("Cannot read properties of undefined (reading 'id')"), "BATON_INTERNAL"],
    ];
    for (const [err, code] of cases) {
      const one = await startApi(failing("history", err), {
        host: "127.0.0.1",
        port: 0,
        log: (line) => lines.push(line),
      });
      try {
        const res = await request(`${one.url}/v1/releases`);
        const text = await res.body.text();
        const body = JSON.parse(text);
        expect(res.statusCode, code).toBe(ERRORS[code as ErrorCode].status);
        expect(body.error.code).toBe(code);
        expect(Object.keys(body)).toEqual(["error"]);
        // Never a stack trace, nor the text of an error that is not Baton's own.
        expect(text).not.toMatch(/\n\s+at |api-server|node_modules/);
        if (code === "BATON_INTERNAL") {
          expect(body.error.message).toMatch(
            /^internal error \(request req-[\w-]+\); the control plane's log/,
          );
          expect(text).not.toContain((err as Error).message);
          expect(lines.at(-1)).toContain((err as Error).message);
          expect(lines.at(-1)).toMatch(/GET \/v1\/releases/);
        } else expect(body.error.message).toBe((err as Error).message);
      } finally {
        await one.close();
      }
    }
  });

  it("answers 503 BATON_DATABASE_UNAVAILABLE when the state database is down", async () => {
    const port = await freePort();
    const down = new ControlPlane({
      file,
      db: pgClient(`postgres://postgres@127.0.0.1:${port}/nothing`),
      router: new RouterAdmin(`http://127.0.0.1:${router.adminAddress!.port}`),
      routerUrl: `http://127.0.0.1:${router.address.port}`,
      dataDir: dir,
    });
    const one = await startApi(down, { host: "127.0.0.1", port: 0 });
    try {
      const res = await request(`${one.url}/v1/releases`);
      expect(res.statusCode).toBe(503);
      expect(((await res.body.json()) as any).error.code).toBe("BATON_DATABASE_UNAVAILABLE");
    } finally {
      await one.close();
    }
  });

  it("answers what no route takes, and what HTTP itself refuses, in the same envelope", async () => {
    const port = Number(new URL(api.url).port);
    const unauthorized = await request(`${api.url}/v1/status`, { headers: { authorization: "Bearer nope" } });
    expect(unauthorized.statusCode).toBe(401);
    expect(unauthorized.headers["www-authenticate"]).toMatch(/^Bearer/);
    expect(await unauthorized.body.json()).toEqual({
      error: { code: "BATON_UNAUTHORIZED", message: "missing or wrong bearer token" },
    });
    // Not even whether a route exists is told without the token.
    expect((await call("GET", "/v1/nothing", undefined, "")).status).toBe(401);

    const missing = await call("GET", "/v1/nothing");
    expect(missing).toEqual({
      status: 404,
      body: { error: { code: "BATON_NOT_FOUND", message: "no route GET /v1/nothing" } },
    });
    const wrongMethod = await request(`${api.url}/v1/deploy`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe("POST");
    expect(((await wrongMethod.body.json()) as any).error.code).toBe("BATON_METHOD_NOT_ALLOWED");
    const head = await request(`${api.url}/v1/releases/1`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect([head.statusCode, head.headers.allow]).toEqual([405, "GET"]);
    await head.body.dump();
    // The down route exists only where `onDown` is given.
    expect((await call("POST", "/v1/down", {})).body.error.code).toBe("BATON_NOT_FOUND");

    const noType = await request(`${api.url}/v1/promote`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(noType.statusCode).toBe(415);
    expect(((await noType.body.json()) as any).error.code).toBe("BATON_UNSUPPORTED_MEDIA_TYPE");

    const badEscape = await call("GET", "/v1/releases/%E0%A4");
    expect(badEscape.status).toBe(400);
    expect(badEscape.body.error).toMatchObject({ code: "BATON_BAD_REQUEST", field: "path" });

    const garbage = await rawHttp(port, "HELLO THERE\r\n\r\n");
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(envelopeOf(garbage).error.code).toBe("BATON_BAD_REQUEST");
    const huge = await rawHttp(
      port,
      `GET /v1/status HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(64 * 1024)}\r\n\r\n`,
    );
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(envelopeOf(huge).error.code).toBe("BATON_HEADERS_TOO_LARGE");
  });

  it("refuses unknown or repeated parameters by name, on every route", async () => {
    const cases: [string, string, string, RegExp][] = [
      ["GET", "/v1/status?verbose=1", "verbose", /^unknown parameter "verbose" \(none accepted here\)/],
      ["GET", "/v1/releases?__proto__=x", "query", /__proto__/],
      ["POST", "/v1/promote?force=1", "force", /unknown parameter "force"/],
      ["GET", "/v1/logs?lines=5&lines=6", "lines", /more than once/],
      ["GET", "/v1/releases/1?wait=1&colour=red", "colour", /accepted: wait/],
    ];
    for (const [method, path, field, message] of cases) {
      const r = await call(method, path, method === "POST" ? {} : undefined);
      expect(r.status, path).toBe(400);
      expect(r.body.error, path).toMatchObject({ code: "BATON_BAD_REQUEST", field });
      expect(r.body.error.message, path).toMatch(message);
    }
  });

  it("limits bodies in bytes, not characters", async () => {
    const one = await startApi(plane, { host: "127.0.0.1", port: 0, maxBodyBytes: 1000 });
    const post = (body: string) =>
      request(`${one.url}/v1/abort`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    try {
      // 456 characters, 906 bytes: under the limit (and then a well-formed but refused actor).
      const under = await post(JSON.stringify({ actor: "é".repeat(450) }));
      expect(((await under.body.json()) as any).error.code).toBe("BATON_BAD_REQUEST");
      // 556 characters, 1106 bytes: over it.
      const over = await post(JSON.stringify({ actor: "é".repeat(550) }));
      expect(over.statusCode).toBe(413);
      expect(over.headers.connection).toBe("close");
      expect(await over.body.json()).toEqual({
        error: { code: "BATON_BODY_TOO_LARGE", message: "the request body is over the limit of 1000 bytes" },
      });
    } finally {
      await one.close();
    }
  });

  it("stops through POST /v1/down after answering, and adds extraStatus to the status", async () => {
    let stopped!: () => void;
    const down = new Promise<void>((resolve) => (stopped = resolve));
    const one = await startApi(plane, {
      host: "127.0.0.1",
      port: 0,
      onDown: () => stopped(),
      extraStatus: () => ({ router: { state: "running", pid: 1 } }),
    });
    try {
      const status = await request(`${one.url}/v1/status`);
      expect(((await status.body.json()) as any).router).toEqual({ state: "running", pid: 1 });
      const res = await request(`${one.url}/v1/down`, {
        method: "POST",
        headers: { "content-type": "application/json" },
      });
      expect(res.statusCode).toBe(202);
      expect(await res.body.json()).toEqual({ stopping: true });
      await down;
    } finally {
      await one.close();
    }
  });
});

/** Every `$ref` in `doc`, with where it stands. */
function refsOf(value: unknown, at = "#"): [string, string][] {
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === "$ref" && typeof v === "string" ? [[at, v] as [string, string]] : refsOf(v, `${at}/${k}`),
  );
}
function resolvePointer(doc: unknown, ref: string): unknown {
  return ref
    .slice(2)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<any>((node, key) => (node && Object.hasOwn(node, key) ? node[key] : undefined), doc);
}

describe("the OpenAPI document", () => {
  it("is served without a token, is OpenAPI 3.1, and describes every route Fastify routes", async () => {
    const app = buildApi(plane, {
      host: "127.0.0.1",
      port: 0,
      tokenSha256: hashToken(TOKEN),
      onDown: () => {},
    });
    const routed: string[] = [];
    app.addHook("onRoute", (r) => {
      for (const m of [r.method].flat())
        routed.push(`${m.toLowerCase()} ${r.url.replace(/:(\w+)/g, "{$1}")}`);
    });
    await app.ready();
    try {
      const res = await app.inject({ method: "GET", url: "/v1/openapi.json" });
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });

      const described: string[] = [];
      const operationIds = new Set<string>();
      for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
        expect(path).toMatch(/^\//);
        for (const [method, op] of Object.entries(item)) {
          const what = `${method} ${path}`;
          described.push(what);
          expect(["get", "post"], what).toContain(method);
          expect(operationIds.has(op.operationId), what).toBe(false);
          operationIds.add(op.operationId);
          expect(Object.keys(op.responses).length, what).toBeGreaterThan(1);
          expect(
            Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s)),
            what,
          ).toHaveLength(1);
          for (const [status, response] of Object.entries<any>(op.responses)) {
            expect(status, what).toMatch(/^[1-5]\d\d$/);
            expect(response.description, what).toEqual(expect.any(String));
            expect(response.content["application/json"].schema, what).toBeDefined();
          }
          // Every path template parameter is declared, required, in the path.
          const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
          const declared = (op.parameters ?? []).filter((p: any) => p.in === "path");
          expect(
            declared.map((p: any) => p.name),
            what,
          ).toEqual(inPath);
          expect(
            declared.every((p: any) => p.required === true),
            what,
          ).toBe(true);
          for (const s of op.security ?? doc.security)
            for (const scheme of Object.keys(s)) expect(doc.components.securitySchemes[scheme]).toBeDefined();
          if (op.requestBody) expect(method, what).toBe("post");
          // Error answers: each code its catalog status.
          for (const [status, response] of Object.entries<any>(op.responses))
            if (Number(status) >= 400)
              for (const code of response.description.match(/BATON_[A-Z_]+/g) ?? [])
                expect(ERRORS[code as ErrorCode].status, `${what} ${code}`).toBe(Number(status));
        }
      }
      expect(described.sort()).toEqual(routed.sort());
      expect(routed).toContain("post /v1/down");
      expect(doc.paths["/v1/openapi.json"].get.security).toEqual([]);
      expect(doc.paths["/v1/status"].get.security).toBeUndefined(); // the document's: bearer

      const refs = refsOf(doc);
      expect(refs.length).toBeGreaterThan(20);
      for (const [at, ref] of refs) {
        expect(ref, at).toMatch(/^#\//);
        expect(resolvePointer(doc, ref), `${at}: ${ref}`).toBeDefined();
      }
      // Every component is a JSON Schema (2020-12, OpenAPI 3.1's dialect) that compiles.
      const ajv = new Ajv2020({ strict: false, allErrors: true });
      ajv.addSchema(doc, "openapi");
      for (const id of Object.keys(doc.components.schemas))
        expect(() => ajv.compile({ $ref: `openapi#/components/schemas/${id}` }), id).not.toThrow();
    } finally {
      await app.close();
    }
  });

  it("describes the answers the API really gives", async () => {
    const doc = (await call("GET", "/v1/openapi.json", undefined, "")).body;
    const conforms = openApiConformance(doc, (method, path, body) => call(method, path, body));
    const [latest] = (await conforms("GET", "/v1/releases", "/v1/releases")).body;
    expect(latest).toBeDefined(); // the releases of the deploy test
    await conforms("GET", "/v1/status", "/v1/status");
    await conforms("GET", `/v1/releases/${latest.id}`, "/v1/releases/{id}");
    await conforms("GET", "/v1/releases/9007199254740991", "/v1/releases/{id}");
    await conforms("GET", "/v1/releases/abc", "/v1/releases/{id}");
    await conforms("GET", `/v1/releases/${latest.id}/analysis`, "/v1/releases/{id}/analysis");
    await conforms("GET", "/v1/releases/9007199254740991/analysis", "/v1/releases/{id}/analysis");
    const timeline = await conforms("GET", `/v1/releases/${latest.id}/events`, "/v1/releases/{id}/events");
    expect(timeline.body.events.length).toBeGreaterThan(0); // what the deploy test's release said
    await conforms("GET", "/v1/logs?lines=5", "/v1/logs");
    await conforms("GET", "/v1/audit/verify", "/v1/audit/verify");
    await conforms("POST", "/v1/promote", "/v1/promote", {});
    await conforms("POST", "/v1/deploy", "/v1/deploy", { version: "v9" });
    await conforms("POST", "/v1/abort", "/v1/abort", { actor: 7 });
  });
});
