import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Flag } from "../flag-schema.js";
import { createFlagClient, type FlagClient, type FlagClientOptions } from "./create-flag-client.js";

const TOKEN = "default:development.test-token";

/**
 * A small server of Unleash's client API, as unleash-client 6.12.1 expects it: features with ETag and
 * 304, a stream whose `unleash-connected` carries a hydration (or, for a known Last-Event-ID, what was
 * missed) and whose `unleash-updated` carries delta events, each event id the last delta's eventId.
 */
class UnleashApiServer {
  flags = new Map<string, Flag>();
  eventId = 1;
  log: Array<{ eventId: number; type: "feature-updated"; feature: Flag }> = [];
  rawFeatures: string | undefined;
  failMetrics = 0;
  /** As an Unleash without streaming: the endpoint is not there. */
  noStreaming = false;
  readonly seen = { features: 0, notModified: 0, streams: 0, lastEventIds: [] as (string | undefined)[] };
  readonly metrics: any[] = [];
  readonly registrations: any[] = [];
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #streams = new Set<ServerResponse>();
  port = 0;

  constructor(flags: Flag[]) {
    for (const flag of flags) this.flags.set(flag.name, flag);
  }

  get url() {
    return `http://127.0.0.1:${this.port}/api`;
  }

  async start(port = 0) {
    const server = createServer((req, res) => void this.#handle(req, res));
    server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    this.#server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** Killed: the listener and every connection, streams included, go at once. */
  async kill() {
    const closed = new Promise((resolve) => this.#server?.close(resolve));
    for (const socket of this.#sockets) socket.destroy();
    this.#streams.clear();
    await closed;
  }

  setFlag(flag: Flag) {
    this.flags.set(flag.name, flag);
    const event = { eventId: ++this.eventId, type: "feature-updated" as const, feature: flag };
    this.log.push(event);
    this.send("unleash-updated", JSON.stringify({ events: [event] }), String(event.eventId));
  }

  send(event: string, data: string, id?: string) {
    const text = `event: ${event}\n${id ? `id: ${id}\n` : ""}data: ${data}\n\n`;
    for (const stream of this.#streams) stream.write(text);
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    if (req.headers.authorization !== TOKEN) return void res.writeHead(401).end();
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && path === "/api/client/features") return this.#features(req, res);
    if (req.method === "GET" && path === "/api/client/streaming" && !this.noStreaming) {
      return this.#stream(req, res);
    }
    if (req.method === "POST") {
      let body = "";
      for await (const chunk of req) body += chunk;
      if (path === "/api/client/register") this.registrations.push(JSON.parse(body));
      if (path === "/api/client/metrics") {
        if (this.failMetrics > 0 && this.failMetrics--) return void res.writeHead(503).end();
        this.metrics.push(JSON.parse(body));
      }
      return void res.writeHead(202).end();
    }
    res.writeHead(404).end();
  }

  #features(req: IncomingMessage, res: ServerResponse) {
    this.seen.features++;
    const etag = `"${this.eventId}"`;
    if (this.rawFeatures === undefined && req.headers["if-none-match"] === etag) {
      this.seen.notModified++;
      return void res.writeHead(304, { etag }).end();
    }
    const body = this.rawFeatures ?? JSON.stringify({ version: 2, features: [...this.flags.values()] });
    res.writeHead(200, { "content-type": "application/json", etag }).end(body);
  }

  #stream(req: IncomingMessage, res: ServerResponse) {
    this.seen.streams++;
    const lastEventId = req.headers["last-event-id"] as string | undefined;
    this.seen.lastEventIds.push(lastEventId);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(": connected\n\n");
    const known = lastEventId !== undefined && Number(lastEventId) <= this.eventId;
    const events = known
      ? this.log.filter((event) => event.eventId > Number(lastEventId))
      : [{ type: "hydration", eventId: this.eventId, features: [...this.flags.values()], segments: [] }];
    const payload = JSON.stringify({ events });
    res.write(`event: unleash-connected\nid: ${this.eventId}\ndata: ${payload}\n\n`);
    this.#streams.add(res);
    res.on("close", () => this.#streams.delete(res));
  }
}

const on = (name: string, enabled = true, extra: Partial<Flag> = {}): Flag => ({
  name,
  enabled,
  strategies: [{ name: "default", parameters: {} }],
  ...extra,
});

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const directory = mkdtempSync(join(tmpdir(), "baton-flag-client-"));
const clients: FlagClient[] = [];
const servers: UnleashApiServer[] = [];

async function serve(flags: Flag[]) {
  const server = new UnleashApiServer(flags);
  await server.start();
  servers.push(server);
  return server;
}

function client(server: UnleashApiServer, options: Partial<FlagClientOptions> = {}) {
  const created = createFlagClient({
    url: server.url,
    token: TOKEN,
    appName: "checkout-service",
    metricsInterval: 0,
    reconnectDelay: { initialMs: 50, maxMs: 200 },
    ...options,
  });
  const errors: Error[] = [];
  const changes: string[][] = [];
  created.on("error", (error) => errors.push(error));
  created.on("changed", (names) => changes.push(names));
  clients.push(created);
  return Object.assign(created, { errors, changes });
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((each) => each.close()));
  await Promise.all(servers.splice(0).map((each) => each.kill()));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe("createFlagClient", () => {
  it("is ready from the stream and answers synchronously, with the static context added", async () => {
    const server = await serve([
      on("checkout"),
      on("off", false),
      on("for-this-app", true, {
        strategies: [
          {
            name: "default",
            constraints: [{ contextName: "appName", operator: "IN", values: ["checkout-service"] }],
          },
        ],
      }),
      on("in-production", true, {
        strategies: [
          {
            name: "default",
            constraints: [{ contextName: "environment", operator: "IN", values: ["production"] }],
          },
        ],
      }),
      on("this-host", true, {
        strategies: [
          { name: "applicationHostname", parameters: { hostNames: process.env.HOSTNAME || hostname() } },
        ],
      }),
    ]);
    const flags = client(server, { environment: "production" });
    expect(flags.isEnabled("checkout")).toBe(false); // no state yet: off
    await flags.ready();
    expect(flags.isEnabled("checkout")).toBe(true);
    expect(flags.isEnabled("off")).toBe(false);
    expect(flags.isEnabled("unknown")).toBe(false);
    expect(flags.isEnabled("for-this-app")).toBe(true);
    expect(flags.isEnabled("in-production")).toBe(true);
    expect(flags.isEnabled("in-production", { environment: "staging" })).toBe(false);
    expect(flags.isEnabled("this-host")).toBe(true);
    expect(flags.getVariant("checkout")).toEqual({ name: "disabled", enabled: false, featureEnabled: true });
    expect(flags.changes[0]).toEqual(["checkout", "for-this-app", "in-production", "off", "this-host"]);
    expect(server.seen.features).toBe(0); // streaming needs no poll
  });

  it("sees a change pushed over SSE within 100 ms, with the names that changed", async () => {
    const server = await serve([on("checkout", false), on("search")]);
    const flags = client(server);
    await flags.ready();
    const changed = new Promise<string[]>((resolve) => flags.on("changed", resolve));
    const started = performance.now();
    server.setFlag(on("checkout"));
    expect(await changed).toEqual(["checkout"]);
    expect(performance.now() - started).toBeLessThan(100);
    expect(flags.isEnabled("checkout")).toBe(true);
  });

  it("keeps answering with the server killed, catches up when it is back, and restarts from the backup", async () => {
    const backupFile = join(directory, "restart.json");
    const server = await serve([on("checkout"), on("search", false)]);
    const flags = client(server, { backupFile });
    await flags.ready();
    server.setFlag(on("search"));
    await waitFor(() => flags.isEnabled("search"), "the update");
    await waitFor(
      () => existsSync(backupFile) && readFileSync(backupFile, "utf8").includes('"search","enabled":true'),
      "the backup",
    );

    const port = server.port;
    await server.kill();
    expect(flags.isEnabled("checkout")).toBe(true);
    expect(flags.isEnabled("search")).toBe(true);

    // An application started now, with the server down, answers from the backup file.
    const restarted = client(server, { backupFile, bootstrap: { features: [] } });
    await restarted.ready();
    expect(restarted.isEnabled("checkout")).toBe(true);
    expect(restarted.isEnabled("search")).toBe(true);

    server.setFlag(on("checkout", false)); // changed while the clients are cut off
    await server.start(port);
    await waitFor(
      () => !flags.isEnabled("checkout") && !restarted.isEnabled("checkout"),
      "the missed change",
    );
    expect(server.seen.lastEventIds).toContain(String(server.eventId - 1)); // resumed from its last event
    expect(flags.changes.at(-1)).toEqual(["checkout"]);
    expect(flags.errors.length).toBeGreaterThan(0); // the outage was reported, not thrown
  });

  it("refuses a corrupt or partial payload and keeps the last good state", async () => {
    const server = await serve([on("checkout")]);
    const flags = client(server);
    await flags.ready();
    const streams = server.seen.streams;
    server.send(
      "unleash-updated",
      '{"events":[{"type":"feature-updated","eventId":9,"feature":{"name":"checkout"',
    );
    server.send(
      "unleash-updated",
      JSON.stringify({
        events: [{ type: "feature-updated", eventId: 9, feature: { name: "checkout", enabled: "no" } }],
      }),
    );
    await waitFor(() => flags.errors.some((error) => /refused/.test(error.message)), "the refusal");
    expect(flags.isEnabled("checkout")).toBe(true);
    // It reconnects without Last-Event-ID, for a full state rather than deltas on a doubtful one.
    await waitFor(() => server.seen.streams > streams, "the reconnection");
    expect(server.seen.lastEventIds.at(-1)).toBeUndefined();

    const polled = await serve([on("checkout")]);
    polled.rawFeatures = '{"features":[{"name":"checkout","enabled":true,"strategies":[{"name":"default"';
    const poller = client(polled, {
      streaming: false,
      refreshInterval: 20,
      bootstrap: { features: [on("checkout")] },
    });
    await waitFor(() => poller.errors.some((error) => /not JSON/.test(error.message)), "the refusal");
    expect(poller.isEnabled("checkout")).toBe(true);

    const corruptBackup = join(directory, "corrupt.json");
    writeFileSync(corruptBackup, '{"features":[{"name":"x","enabled":true}]}');
    const fromCorrupt = client(polled, {
      streaming: false,
      backupFile: corruptBackup,
      bootstrap: { features: [on("boot")] },
    });
    await fromCorrupt.ready();
    expect(fromCorrupt.isEnabled("boot")).toBe(true);
    await waitFor(
      () => fromCorrupt.errors.some((error) => /backup file .* refused/.test(error.message)),
      "the report",
    );
  });

  it("polls with ETag when streaming is off: unchanged states cost a 304", async () => {
    const server = await serve([on("checkout", false)]);
    const flags = client(server, { streaming: false, refreshInterval: 20 });
    await flags.ready();
    await waitFor(() => server.seen.notModified >= 2, "304s");
    server.setFlag(on("checkout"));
    await waitFor(() => flags.isEnabled("checkout"), "the polled change");
    expect(flags.changes.at(-1)).toEqual(["checkout"]);
    expect(server.seen.streams).toBe(0);
  });

  it("falls back to polling when the server has no stream", async () => {
    const server = await serve([on("checkout", false)]);
    server.noStreaming = true;
    const flags = client(server, { refreshInterval: 20 });
    await flags.ready();
    expect(flags.errors.some((error) => /polling instead.*404/.test(error.message))).toBe(true);
    server.setFlag(on("checkout"));
    await waitFor(() => flags.isEnabled("checkout"), "the polled change");
  });

  it("reports counts in Unleash's metrics format, keeping those of a failed post", async () => {
    const server = await serve([
      on("checkout"),
      on("colors", true, {
        variants: [{ name: "blue", weight: 1000, payload: { type: "string", value: "#00f" } }],
      }),
    ]);
    server.failMetrics = 1;
    const flags = client(server, { metricsInterval: 100, environment: "production", instanceId: "pod-1" });
    await flags.ready();
    for (let i = 0; i < 3; i++) flags.isEnabled("checkout");
    flags.isEnabled("unknown");
    flags.getVariant("colors", { userId: "7" });
    flags.getVariant("unknown");
    await waitFor(() => server.metrics.length > 0, "a metrics post");
    const [posted] = server.metrics;
    expect(posted).toMatchObject({
      appName: "checkout-service",
      instanceId: "pod-1",
      environment: "production",
    });
    expect(new Date(posted.bucket.start).getTime()).toBeLessThanOrEqual(
      new Date(posted.bucket.stop).getTime(),
    );
    expect(posted.bucket.toggles).toEqual({
      checkout: { yes: 3, no: 0, variants: {} },
      unknown: { yes: 0, no: 2, variants: { disabled: 1 } },
      colors: { yes: 1, no: 0, variants: { blue: 1 } },
    });
    expect(server.registrations[0]).toMatchObject({ appName: "checkout-service", instanceId: "pod-1" });
    expect(flags.errors.some((error) => /503/.test(error.message))).toBe(true);
  });

  it("stays on the stream across many reconnections answered with a catch-up (no hydration)", async () => {
    // As Baton answers a known Last-Event-ID: what was missed, as updates; then the control plane
    // restarts again. Seven restarts in a row must not add up to a fail-over to polling.
    let connections = 0;
    let polls = 0;
    const flaky = createServer((req, res) => {
      if (req.url?.startsWith("/api/client/features")) {
        polls++;
        return void res
          .writeHead(200, { "content-type": "application/json" })
          .end('{"version":2,"features":[]}');
      }
      connections++;
      res.writeHead(200, { "content-type": "text/event-stream" });
      const flag = on("restarts", connections % 2 === 0);
      if (req.headers["last-event-id"])
        res.write(
          `event: unleash-updated\nid: ${connections}\ndata: ${JSON.stringify({ events: [{ type: "feature-updated", eventId: connections, feature: flag }] })}\n\n`,
        );
      else
        res.write(
          `event: unleash-connected\nid: ${connections}\ndata: ${JSON.stringify({ events: [{ type: "hydration", eventId: connections, features: [flag], segments: [] }] })}\n\n`,
        );
      setTimeout(() => res.destroy(), 20);
    });
    flaky.listen(0, "127.0.0.1");
    await once(flaky, "listening");
    try {
      const flags = createFlagClient({
        url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/api`,
        token: TOKEN,
        appName: "restarts",
        metricsInterval: 0,
        reconnectDelay: { initialMs: 10, maxMs: 20 },
      });
      clients.push(flags);
      flags.on("error", () => {});
      await waitFor(() => connections >= 8, "eight connections");
      expect(polls).toBe(0);
    } finally {
      flaky.closeAllConnections();
      flaky.close();
    }
  });

  it("writes its problems to stderr when nobody listens, once per kind", async () => {
    const server = await serve([on("any")]);
    const dist = new URL("../../dist/index.js", import.meta.url).href;
    const script = `import { createFlagClient } from ${JSON.stringify(dist)};
      const flags = createFlagClient({ url: ${JSON.stringify(server.url)}, token: "wrong", appName: "quiet-app", streaming: false, refreshInterval: 50, metricsInterval: 0 });
      setTimeout(() => flags.close(), 600);`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    await once(child, "exit");
    const lines = stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^@baton\/flags \(quiet-app\): .*features.* 401/);
    expect(lines.length).toBe(1); // polled ~10 times, said once
  });
});
