import { once } from "node:events";
import { Agent, createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { health } from "../health/health.js";
import { httpGet, openClients } from "../test-support/shutdown-clients.js";
import { gracefulShutdown } from "./graceful-shutdown.js";
import { type ShutdownLogger, silentShutdownLogger } from "./shutdown-logger.js";

/** A logger that keeps its lines, to read what the shutdown said. */
function recordingLogger(): ShutdownLogger & { lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { lines, info: put("info"), warn: put("warn"), error: put("error") };
}

/** A service: /slow?ms=N answers after N ms, /hang never, /stream sends its head at once. */
async function service(): Promise<{ server: Server; wss: WebSocketServer; url: string; ws: string }> {
  const h = health();
  const server = createServer((req, res) => {
    if (h.handle(req, res)) return;
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/hang") return;
    if (url.pathname === "/stream") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("head;");
      setTimeout(() => res.end("tail"), Number(url.searchParams.get("ms") ?? 0));
      return;
    }
    setTimeout(() => res.end(`done ${url.pathname}`), Number(url.searchParams.get("ms") ?? 0));
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  (server as Server & { health?: typeof h }).health = h;
  return { server, wss, url: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws` };
}

/** Resolves when the server has received `n` more requests. */
function requestsArriving(server: Server, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const on = () => {
      if (++seen < n) return;
      server.off("request", on);
      resolve();
    };
    server.on("request", on);
  });
}

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.splice(0)) c();
});

describe("gracefulShutdown", () => {
  it("serves through preStop, finishes in-flight requests with Connection: close, closes idle keep-alive at once, and WebSockets with 1001 in batches", async () => {
    const svc = await service();
    const h = (svc.server as Server & { health: ReturnType<typeof health> }).health;
    const order: string[] = [];
    const shutdown = gracefulShutdown(svc.server, {
      signals: [],
      exit: false,
      health: h,
      preStopMs: 300,
      timeoutMs: 5000,
      logger: recordingLogger(),
      websockets: {
        servers: [svc.wss],
        graceMs: 100,
        batchSize: 5,
        batchIntervalMs: 40,
        closeTimeoutMs: 1000,
      },
      hooks: [
        { name: "db", run: () => void order.push("db") },
        { name: "queue", run: async () => void order.push("queue") },
      ],
    });
    cleanup.push(() => shutdown.dispose());
    const clients = await openClients(svc.ws, 20);
    // An idle keep-alive connection, and ten requests that will be in flight when accepting stops.
    const idleAgent = new Agent({ keepAlive: true, maxSockets: 1 });
    const busyAgent = new Agent({ keepAlive: true, maxSockets: 11 });
    cleanup.push(
      () => idleAgent.destroy(),
      () => busyAgent.destroy(),
    );
    expect((await httpGet(`${svc.url}/fast`, idleAgent)).connection).toBe("keep-alive");
    const idleSocket = Object.values(idleAgent.freeSockets)[0]![0]!;
    const idleClosed = once(idleSocket, "close").then(() => Date.now());
    const arrived = requestsArriving(svc.server, 11);
    const inFlight = Array.from({ length: 10 }, () => httpGet(`${svc.url}/slow?ms=600`, busyAgent));
    const streamed = httpGet(`${svc.url}/stream?ms=500`, busyAgent);
    await arrived;

    const started = Date.now();
    const report = shutdown.shutdown("test");
    expect(shutdown.shuttingDown).toBe(true);
    // preStop: readiness says so at once, while requests are still served (asked to reconnect).
    const ready = await httpGet(`${svc.url}/readyz`, false);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).status).toBe("shutting down");
    const during = await httpGet(`${svc.url}/fast`, false);
    expect([during.status, during.connection]).toEqual([200, "close"]);

    const answers = await Promise.all(inFlight);
    for (const a of answers) expect([a.status, a.body, a.connection]).toEqual([200, "done /slow", "close"]);
    // The stream's head went out keep-alive before the signal; it ends whole, then its connection closes.
    expect((await streamed).body).toBe("head;tail");
    const idleAt = await idleClosed;
    expect(idleAt - started).toBeGreaterThanOrEqual(290);
    expect(idleAt - started).toBeLessThan(800); // at the end of preStop, not at keepAliveTimeout
    await expect(httpGet(`${svc.url}/fast`, false)).rejects.toThrow(/ECONNREFUSED/);

    await clients.allClosed;
    expect(clients.closes.map((c) => c.code)).toEqual(Array(20).fill(1001));
    expect(clients.closes[0]!.reason).toBe("server shutting down");
    // After preStop and the grace, four batches of five about 40 ms apart (±50%): not all at once.
    const times = clients.closes.map((c) => c.at);
    expect(Math.min(...times) - started).toBeGreaterThanOrEqual(395);
    expect(Math.max(...times) - Math.min(...times)).toBeGreaterThanOrEqual(50);

    const r = await report;
    expect(r.exitCode).toBe(0);
    expect(r.websockets).toEqual({ closed: 20, terminated: 0 });
    expect(order).toEqual(["db", "queue"]);
    expect(r.hooks.map((x) => x.ok)).toEqual([true, true]);
    expect(r.requestsSinceSignal).toBeGreaterThanOrEqual(13);
    // Every connection was gone well before the deadline: the stream's connection too, closed as
    // soon as it went idle rather than at its keep-alive timeout (5 s).
    expect(r.durationMs).toBeLessThan(1500);
    expect(r.cut).toBeUndefined();
    expect(await shutdown.shutdown("again")).toBe(r);
  });

  it("runs every hook in order though one throws and one hangs, each within its timeout", async () => {
    const svc = await service();
    const log = recordingLogger();
    const ran: string[] = [];
    let aborted = false;
    const shutdown = gracefulShutdown(svc.server, {
      signals: [],
      exit: false,
      preStopMs: 0,
      logger: log,
      hooks: [
        {
          name: "broken",
          run: () => {
            ran.push("broken");
            throw new Error("pool already ended");
          },
        },
        {
          name: "stuck",
          timeoutMs: 150,
          run: (signal) => {
            ran.push("stuck");
            signal.addEventListener("abort", () => (aborted = true));
            return new Promise(() => {});
          },
        },
      ],
    });
    cleanup.push(() => shutdown.dispose());
    shutdown.addHook({ name: "flush", run: async () => void ran.push("flush") });
    const r = await shutdown.shutdown();
    expect(ran).toEqual(["broken", "stuck", "flush"]);
    expect(aborted).toBe(true);
    expect(r.hooks).toMatchObject([
      { name: "broken", ok: false, error: "pool already ended" },
      { name: "stuck", ok: false, error: "timed out after 150 ms" },
      { name: "flush", ok: true },
    ]);
    expect(r.hooks[1]!.ms).toBeGreaterThanOrEqual(145);
    expect(r.exitCode).toBe(1);
    expect(log.lines.filter((l) => l.startsWith("error shutdown hook"))).toHaveLength(2);
  });

  it("cuts what is still open at the deadline, says what it was, and exits 1", async () => {
    const svc = await service();
    const log = recordingLogger();
    const shutdown = gracefulShutdown(svc.server, {
      signals: [],
      exit: false,
      preStopMs: 50,
      timeoutMs: 900,
      logger: log,
      hooks: [{ name: "db", timeoutMs: 300, run: () => {} }],
      websockets: { servers: [svc.wss], closeTimeoutMs: 200 },
    });
    cleanup.push(() => shutdown.dispose());
    const agent = new Agent({ keepAlive: true });
    cleanup.push(() => agent.destroy());
    const arrived = requestsArriving(svc.server, 2);
    const hung = httpGet(`${svc.url}/hang?id=1`, agent).catch((e: Error) => e);
    const hung2 = httpGet(`${svc.url}/hang?id=2`, agent).catch((e: Error) => e);
    // A WebSocket client that never answers the close frame: its handshake by hand, then silence.
    const mute = connect((svc.server.address() as AddressInfo).port, "127.0.0.1");
    cleanup.push(() => mute.destroy());
    mute.write(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    await once(mute, "data");
    mute.on("data", () => {});
    const polite = await openClients(svc.ws, 1);
    await arrived;

    const r = await shutdown.shutdown("deadline test");
    // Drain deadline = 900 ms timeout - 300 ms kept for the hook.
    expect(r.durationMs).toBeGreaterThanOrEqual(590);
    expect(r.durationMs).toBeLessThan(800);
    expect(r.exitCode).toBe(1);
    expect(r.websockets).toEqual({ closed: 1, terminated: 1 });
    expect(r.cut).toMatchObject({ requestsInFlight: 2, requests: { "GET /hang": 2 } });
    expect(r.cut!.oldestRequestMs).toBeGreaterThanOrEqual(590);
    expect(r.hooks).toMatchObject([{ name: "db", ok: true }]);
    expect(polite.closes.map((c) => c.code)).toEqual([1001]);
    expect(log.lines.some((l) => l.includes("drain deadline passed") && l.includes('"GET /hang":2'))).toBe(
      true,
    );
    expect(await hung).toBeInstanceOf(Error);
    expect(await hung2).toBeInstanceOf(Error);
  });

  it("serves the first request of a connection accepted before the stop, and closes a silent one after a grace", async () => {
    const svc = await service();
    const port = (svc.server.address() as AddressInfo).port;
    let stoppedAccepting: () => void = () => {};
    const stopped = new Promise<void>((r) => (stoppedAccepting = r));
    const log = recordingLogger();
    log.info = (msg) => void (msg.startsWith("no longer accepting") && stoppedAccepting());
    const shutdown = gracefulShutdown(svc.server, { signals: [], exit: false, preStopMs: 50, logger: log });
    cleanup.push(() => shutdown.dispose());
    // Two connections open before the stop; neither has sent anything yet.
    const late = connect(port, "127.0.0.1");
    const silent = connect(port, "127.0.0.1");
    cleanup.push(
      () => late.destroy(),
      () => silent.destroy(),
    );
    await Promise.all([once(late, "connect"), once(silent, "connect")]);
    const silentClosed = once(silent, "close").then(() => Date.now());
    const report = shutdown.shutdown();
    await stopped;
    const stopAt = Date.now();
    // The request comes after the server stopped accepting: it is served, and told to close.
    let answer = "";
    late.on("data", (d: Buffer) => (answer += d.toString()));
    late.write("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    await once(late, "end");
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer).toMatch(/done \/fast$/);
    expect((await silentClosed) - stopAt).toBeGreaterThanOrEqual(900);
    expect((await report).exitCode).toBe(0);
  });

  it("takes the server of a Fastify-like holder", async () => {
    const svc = await service();
    const shutdown = gracefulShutdown(
      { server: svc.server },
      { signals: [], exit: false, preStopMs: 0, logger: silentShutdownLogger },
    );
    cleanup.push(() => shutdown.dispose());
    expect((await shutdown.shutdown()).exitCode).toBe(0);
    expect(svc.server.listening).toBe(false);
  });
});
