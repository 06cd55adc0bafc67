import { connect, type Socket } from "node:net";
import { createFlagClient, type Flag } from "@baton/flags";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, startFlagApi } from "../test-support/flag-fixture.js";
import { openStream } from "../test-support/sse-reader.js";
import { FlagFileError, parseFlagFile } from "./flag-file.js";
import { type ClientMetrics, FlagMetrics } from "./flag-metrics.js";

/**
 * The flag surfaces attacked as an attacker would (a real API over real PostgreSQL, on loopback):
 * each test is a finding that was fixed, and fails on the code before the fix.
 */
let fx: Awaited<ReturnType<typeof startFlagApi>>;
let clientToken: string;

const HEARTBEAT_MS = 1_000;

beforeAll(async () => {
  fx = await startFlagApi("flagattack", { heartbeatMs: HEARTBEAT_MS });
  clientToken = (await fx.call("POST", "/v1/flags/tokens", { name: "attacked" })).body.token;
});
afterAll(() => fx?.close());

/** A request with a body sent as it is (not JSON.stringify'd). */
async function raw(method: string, path: string, body: string) {
  const res = await request(`${fx.api.url}${path}`, {
    method: method as "PUT",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
    body,
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

/** A request whose path goes out as written: HTTP clients would resolve `.` and `..` segments. */
function verbatim(method: string, path: string, body: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(fx.api.url).port), "127.0.0.1");
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("error", reject);
    socket.on("end", () => {
      const [head, text = ""] = answer.split("\r\n\r\n");
      resolve({ status: Number(head!.split(" ")[1]), body: text ? JSON.parse(text) : undefined });
    });
    socket.end(
      `${method} ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
}

const regexFlag = (value: string, caseInsensitive = false): Partial<Flag> => ({
  enabled: true,
  strategies: [
    { name: "default", constraints: [{ contextName: "email", operator: "REGEX", value, caseInsensitive }] },
  ],
});

const exported = async () => JSON.stringify((await fx.call("GET", "/v1/flags/export")).body);

describe("hostile definitions on the admin API", () => {
  it("get a 4xx naming what is wrong, and change nothing", async () => {
    const before = await exported();
    const refused = async (
      answer: Promise<{ status: number; body: any }>,
      status: number,
      field?: string,
    ) => {
      const r = await answer;
      expect(r.status, JSON.stringify(r.body)).toBe(status);
      if (field) expect(r.body.error.field).toBe(field);
      return r.body.error.message as string;
    };
    // SDKs report counts in a JSON object keyed by flag name; a `__proto__` key gets the whole
    // report refused, so such a flag would silently cost its applications every count.
    expect(
      await refused(fx.call("PUT", "/v1/flags/__proto__", { enabled: true, strategies: [] }), 400, "name"),
    ).toContain("__proto__ is reserved");
    const report = `{"appName":"a","bucket":{"start":"s","stop":"s","toggles":{"__proto__":{"yes":1,"no":0}}}}`;
    const metrics = await request(`${fx.api.url}/api/client/metrics`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: clientToken },
      body: report,
    });
    expect(metrics.statusCode).toBe(400);
    await metrics.body.text();

    // Percentages that JavaScript's Number() reads but other SDKs read otherwise, or not at all.
    for (const rollout of ["0x10", "1e1", "Infinity", " "]) {
      const body = { enabled: true, strategies: [{ name: "flexibleRollout", parameters: { rollout } }] };
      await refused(fx.call("PUT", "/v1/flags/odd-percent", body), 400, "strategies[0].parameters.rollout");
    }
    await refused(raw("POST", "/v1/flags/odd-percent/rollout", '{"percent":NaN}'), 400, "body");
    await refused(raw("POST", "/v1/flags/odd-percent/rollout", '{"percent":1e400}'), 400, "percent");
    await refused(raw("PUT", "/v1/flags/proto-body", '{"enabled":true,"strategies":[],"__proto__":{}}'), 400);
    await refused(fx.call("PUT", `/v1/flags/${"n".repeat(10_000)}`, { enabled: true, strategies: [] }), 400);
    await refused(fx.call("PUT", "/v1/flags/a%2Fb", { enabled: true, strategies: [] }), 400, "name");
    // HTTP clients resolve `.` and `..` away: such a flag could be made, never read, changed or deleted.
    for (const path of ["/v1/flags/..", "/v1/flags/.", "/v1/flags/%2E%2E"])
      await refused(verbatim("PUT", path, '{"enabled":true,"strategies":[]}'), 400, "name");
    const dots = { flags: [{ name: "..", enabled: true, strategies: [] }] };
    expect(await refused(fx.call("POST", "/v1/flags/apply", dots), 400, "flags[0].name")).toContain(
      "cannot be a flag name",
    );
    expect(() => parseFlagFile("- {name: ., enabled: true, strategies: []}", "dots.yaml")).toThrow(
      /^dots\.yaml: flags\[0\] \(flag \.\): name: \. cannot be a flag name/,
    );
    const deep = `{"enabled":true,"strategies":[],"x":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;
    await refused(raw("PUT", "/v1/flags/deep", deep), 400);
    await refused(
      fx.call("PUT", "/v1/flags/huge", { enabled: true, strategies: [], d: "x".repeat(2 << 20) }),
      413,
    );
    // RE2 refuses repetitions that multiply past 1000 (a backtracking engine would run them for hours).
    const nested = await refused(
      fx.call("PUT", "/v1/flags/nested", regexFlag("((a{0,1000}){0,1000}){0,1000}$")),
      400,
      "strategies[0].constraints[0].value",
    );
    expect(nested).toContain("bad repetition count");
    expect(await exported()).toBe(before);
  });

  it("keep REGEX constraints linear: a pattern made for catastrophic backtracking answers at once in the SDK", async () => {
    expect((await fx.call("PUT", "/v1/flags/regex-evil", regexFlag("^(a+)+$"))).status).toBe(200);
    const client = createFlagClient({
      url: `${fx.api.url}/api`,
      token: clientToken,
      appName: "attacked",
      metricsInterval: 0,
    });
    try {
      await client.ready();
      const on = (email: string) => client.isEnabled("regex-evil", { properties: { email } });
      expect(on("aaaa")).toBe(true);
      // A backtracking engine takes seconds on 30 characters, doubling with each one more.
      let at = performance.now();
      expect(on(`${"a".repeat(30)}!`)).toBe(false);
      expect(performance.now() - at).toBeLessThan(250);
      at = performance.now();
      expect(on(`${"a".repeat(100_000)}!`)).toBe(false);
      expect(performance.now() - at).toBeLessThan(2_000);
    } finally {
      await client.close();
    }
  });

  it("compile a case-insensitive pattern of many wide ranges without stalling the control plane", async () => {
    // Each range was expanded code point by code point into the RegExp's source: seconds of CPU per
    // request, the whole API frozen meanwhile.
    const wide = "[\\x{0}-\\x{1fff}]".repeat(2_000);
    const at = performance.now();
    const meanwhile = (async () => {
      await new Promise((r) => setTimeout(r, 20));
      const t = performance.now();
      await fx.call("GET", "/api/client/features", undefined, {}, clientToken);
      return performance.now() - t;
    })();
    const put = await fx.call("PUT", "/v1/flags/regex-wide", regexFlag(wide, true));
    expect(put.status, JSON.stringify(put.body).slice(0, 300)).toBe(200);
    expect(performance.now() - at).toBeLessThan(1_500);
    expect(await meanwhile).toBeLessThan(1_500);
    await fx.call("DELETE", "/v1/flags/regex-wide");
  });
});

describe("hostile metrics on the client API", () => {
  const report = (toggles: Record<string, unknown>) => ({
    appName: "attacker",
    bucket: { start: new Date().toISOString(), stop: new Date().toISOString(), toggles },
  });
  const post = (body: unknown) => fx.call("POST", "/api/client/metrics", body, {}, clientToken);

  it("keep counts exact: sums stop at the largest safe integer", async () => {
    await fx.call("PUT", "/v1/flags/counted", { enabled: true, strategies: [{ name: "default" }] });
    const max = Number.MAX_SAFE_INTEGER;
    for (let i = 0; i < 2; i++)
      expect((await post(report({ counted: { yes: max, no: 1, variants: { a: max } } }))).status).toBe(202);
    const counts = (await fx.call("GET", "/v1/flags/counted")).body.metrics;
    expect(counts).toMatchObject({ yes: max, no: 2, variants: { a: max } });
    expect(Number.isSafeInteger(counts.yes)).toBe(true);
  });

  it("cannot grow the control plane's memory without bound with names of flags that do not exist", async () => {
    const junk = (round: number) =>
      Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`j${round}-${i}`, { yes: 1, no: 0 }]));
    for (let round = 0; round < 3; round++) expect((await post(report(junk(round)))).status).toBe(202);
    expect((await post(report({ counted: { yes: 5, no: 0 } }))).status).toBe(202);
    expect(fx.flags.metrics.size).toBeLessThanOrEqual(10_000);
    expect((await fx.call("GET", "/v1/flags/counted")).body.metrics.yes).toBeGreaterThanOrEqual(5);

    // Told which flags exist, made-up names cost nothing and push no real flag's counts out.
    const snapshot = fx.flags.snapshot;
    const metrics = new FlagMetrics({ known: (name) => snapshot.has(name) });
    metrics.add(report({ counted: { yes: 1, no: 0 } }) as ClientMetrics);
    for (let round = 0; round < 3; round++) metrics.add(report(junk(round)) as ClientMetrics);
    expect(metrics.size).toBe(1);
    expect(metrics.of("counted")?.yes).toBe(1);

    const variants = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`v${i}`, 1]));
    const many = await post(report({ counted: { yes: 1, no: 0, variants } }));
    expect(many.status).toBe(400);
    expect(many.body.error).toMatchObject({ field: "bucket.toggles.counted.variants" });
    const long = await post(report({ counted: { yes: 1, no: 0, variants: { ["v".repeat(300)]: 1 } } }));
    expect(long.status).toBe(400);
  });
});

describe("hostile flag files (what `baton flags apply` reads)", () => {
  it("are refused naming the file, fast, without expanding what they stand for", () => {
    const laughs = [
      `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]`,
      ...["b", "c", "d", "e", "f", "g", "h", "i"].map((k, i) => {
        const prev = "abcdefghi"[i];
        return `${k}: &${k} [${Array(9).fill(`*${prev}`).join(",")}]`;
      }),
      "features: *i",
    ].join("\n");
    const at = performance.now();
    expect(() => parseFlagFile(laughs, "laughs.yaml")).toThrow(FlagFileError);
    expect(() => parseFlagFile(laughs, "laughs.yaml")).toThrow(/^laughs\.yaml: \(root\): YAML: .*alias/);
    expect(performance.now() - at).toBeLessThan(1_000);

    // Few aliases, each a long list: a small file whose flags are far over the API's body limit.
    const values = Array.from({ length: 4_000 }, (_, i) => `v${i}`).join(",");
    const expanding = [
      "features:",
      `  - {name: f0, enabled: true, strategies: [{name: default, constraints: [&c {contextName: u, operator: IN, values: [${values}]}]}]}`,
      ...Array.from(
        { length: 60 },
        (_, i) => `  - {name: f${i + 1}, enabled: true, strategies: [{name: default, constraints: [*c]}]}`,
      ),
    ].join("\n");
    expect(() => parseFlagFile(expanding, "expanding.yaml")).toThrow(
      /^expanding\.yaml: \(root\): its flags come to \d+ bytes of JSON .* split it/,
    );

    const utf16 = Buffer.from("- name: x\n  enabled: true\n  strategies: []\n", "utf16le").toString("latin1");
    expect(() => parseFlagFile(utf16, "utf16.yaml")).toThrow(/^utf16\.yaml: \(root\): not a text file/);
  });

  it("takes a file an editor saved with a byte-order mark", () => {
    const parsed = parseFlagFile("\uFEFF- name: bom\n  enabled: true\n  strategies: []\n", "bom.yaml");
    expect(parsed.flags.map((f) => f.name)).toEqual(["bom"]);
  });
});

describe("hostile streaming clients", () => {
  it("get a hydration rather than a resume frame of unbounded size", async () => {
    const start = fx.flags.snapshot.changeId;
    for (let i = 0; i < 3; i++)
      await fx.call("PUT", "/v1/flags/churned", {
        enabled: i % 2 === 0,
        strategies: [{ name: "default" }],
        description: "d".repeat(100_000),
      });
    const resumed = await openStream(fx.api.url, clientToken, String(start));
    try {
      const first = await resumed.next();
      expect(first.event).toBe("unleash-connected");
      expect(JSON.parse(first.data).events[0].type).toBe("hydration");
    } finally {
      resumed.close();
    }
    await fx.call("DELETE", "/v1/flags/churned");
  });

  it("that read nothing share one copy of a large state, and are cut at the next heartbeat", async () => {
    // 8 MB of flags: more than loopback's socket buffers take for a client that does not read.
    for (let i = 0; i < 8; i++)
      await fx.call("PUT", `/v1/flags/big-${i}`, {
        enabled: true,
        strategies: [{ name: "default" }],
        description: String(i).repeat(1_000_000),
      });
    const port = Number(new URL(fx.api.url).port);
    const sockets: Socket[] = [];
    const connectedBefore = fx.flags.stream.size;
    const cutBefore = fx.flags.stream.cut;
    const rssBefore = process.memoryUsage.rss();
    try {
      for (let i = 0; i < 40; i++) {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write(
          `GET /api/client/streaming HTTP/1.1\r\nHost: x\r\nAuthorization: ${clientToken}\r\n\r\n`,
        );
        socket.pause(); // reads nothing, ever
        sockets.push(socket);
      }
      const deadline = Date.now() + 5_000;
      while (fx.flags.stream.size < connectedBefore + 40 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      expect(fx.flags.stream.size).toBe(connectedBefore + 40);
      // Each stream's unsent state was a copy of its own: 40 × 8 MB.
      expect(process.memoryUsage.rss() - rssBefore).toBeLessThan(100 * 1024 * 1024);

      // Another client is served meanwhile.
      const t = performance.now();
      const other = await fx.call("GET", "/api/client/features?namePrefix=big-1", undefined, {}, clientToken);
      expect(other.status).toBe(200);
      expect(performance.now() - t).toBeLessThan(1_000);

      // Nothing changes, nothing fills their buffers further: the heartbeat finds them stalled.
      while (fx.flags.stream.cut < cutBefore + 40 && Date.now() < deadline + 3 * HEARTBEAT_MS)
        await new Promise((r) => setTimeout(r, 50));
      expect(fx.flags.stream.cut - cutBefore).toBe(40);
      expect(fx.flags.stream.size).toBe(connectedBefore);
      for (const socket of sockets.splice(0)) socket.destroy();

      // Pollers that do not read their answer: one copy of it too, however many ask.
      await fx.call("GET", "/api/client/features", undefined, {}, clientToken); // the answer, made once
      const rssPolled = process.memoryUsage.rss();
      for (let i = 0; i < 40; i++) {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => {});
        socket.write(`GET /api/client/features HTTP/1.1\r\nHost: x\r\nAuthorization: ${clientToken}\r\n\r\n`);
        socket.pause();
        sockets.push(socket);
      }
      await new Promise((r) => setTimeout(r, 300));
      const polled = performance.now();
      expect(
        (await fx.call("GET", "/api/client/features?namePrefix=x", undefined, {}, clientToken)).status,
      ).toBe(200);
      expect(performance.now() - polled).toBeLessThan(1_000);
      expect(process.memoryUsage.rss() - rssPolled).toBeLessThan(100 * 1024 * 1024);
    } finally {
      for (const socket of sockets) socket.destroy();
      for (let i = 0; i < 8; i++) await fx.call("DELETE", `/v1/flags/big-${i}`);
    }
  });
});
