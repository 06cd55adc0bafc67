import { createServer, type Server } from "node:http";
import { type AddressInfo, connect, type Socket } from "node:net";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";

/**
 * Slow clients against a pool of ONE upstream connection per instance: whatever a slow client
 * holds, the next normal request shows it at once. Real router, real upstream, raw sockets.
 */
let upstream: Server;
let fx: RouterFixture;
let port = 0;
const bodiesSeen: number[] = [];

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let n = 0;
    req.on("data", (d: Buffer) => (n += d.length));
    req.on("end", () => {
      bodiesSeen.push(n);
      if (req.url === "/huge") return void res.end(Buffer.alloc(12 * 1024 * 1024, 120));
      if (req.url === "/hang") return void setTimeout(() => res.end("late"), 2500);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const inst = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const svc = (name: string, extra: Record<string, unknown>) => ({
    name,
    hosts: [`${name}.test`],
    maxConnectionsPerInstance: 1,
    timeouts: { response: "5s" },
    tracks: { stable: { version: "v1", weight: 10_000, instances: [inst] } },
    ...extra,
  });
  fx = await startRouter([
    // The big response fits in the per-exchange buffer (the kernel takes ~4 MB of it on loopback).
    svc("buffered", { clients: { responseBuffer: 16 * 1024 * 1024 } }),
    svc("rate", { clients: { minBytes: 64 * 1024, minBytesWindow: "1s", responseBuffer: 65_536 } }),
    svc("body", { clients: { minBytes: 100, minBytesWindow: "1s", requestBuffer: 1024 } }),
    svc("queue", { maxQueuedPerInstance: 1, timeouts: { queue: "500ms", response: "5s" } }),
    svc("percap", { maxConnectionsPerInstance: 4, clients: { maxConcurrent: 2 } }),
  ]);
  port = Number(new URL(fx.url).port);
});
afterAll(async () => {
  await fx?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

/** A raw client: writes `head`, then keeps the socket for the test to drive. */
function rawClient(
  text: string,
  localAddress = "127.0.0.1",
): { socket: Socket; received: () => string; closed: Promise<number> } {
  const started = Date.now();
  const socket = connect({ port, host: "127.0.0.1", localAddress });
  let got = "";
  socket.on("data", (d) => {
    if (got.length < 4096) got += d.toString("latin1");
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((r) => socket.on("close", () => r(Date.now() - started)));
  socket.write(text);
  return { socket, received: () => got, closed };
}

async function get(host: string, path = "/ok"): Promise<{ status: number; body: string; ms: number }> {
  const t = Date.now();
  const res = await request(`${fx.url}${path}`, {
    headers: { host },
    headersTimeout: 4000,
    bodyTimeout: 4000,
  });
  return { status: res.statusCode, body: await res.body.text(), ms: Date.now() - t };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("slow clients", () => {
  it("a client that does not read frees the upstream connection once the response is buffered", async () => {
    const slow = rawClient("GET /huge HTTP/1.1\r\nHost: buffered.test\r\n\r\n");
    slow.socket.pause(); // reads nothing more
    await sleep(300);
    // The pool has one connection: this only works if the slow reader gave it back.
    const next = await get("buffered.test");
    expect(next.status).toBe(200);
    slow.socket.destroy();
  });

  it("cuts a client that reads a large response slower than the minimum rate", async () => {
    const slow = rawClient("GET /huge HTTP/1.1\r\nHost: rate.test\r\n\r\n");
    slow.socket.pause();
    // 1 KiB every 200 ms: steady progress that an idle timeout would never catch.
    const trickle = setInterval(() => slow.socket.read(1024), 200);
    await sleep(500);
    // The slow reader holds the only connection until the guard cuts it (after 1-2 windows of 1 s);
    // this request waits for it in the queue (up to 5 s) and gets the connection then.
    const next = await get("rate.test");
    clearInterval(trickle);
    expect(next.status).toBe(200);
    expect(next.ms).toBeGreaterThan(300);
    slow.socket.destroy();
  });

  it("a trickled small body never takes the upstream connection, and is cut with 408", async () => {
    const slow = rawClient("POST /upload HTTP/1.1\r\nHost: body.test\r\nContent-Length: 1000\r\n\r\nabc");
    const trickle = setInterval(() => slow.socket.write("x"), 300);
    await sleep(200);
    const next = await get("body.test");
    expect(next.status).toBe(200);
    // Served while the slow upload is still going, not after it was cut: it held no connection.
    expect(slow.received()).toBe("");
    const closedAfter = await Promise.race([slow.closed, sleep(6000).then(() => -1)]);
    clearInterval(trickle);
    expect(closedAfter).toBeGreaterThan(0);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("a body larger than the buffer streams on, and is cut when it slows down", async () => {
    bodiesSeen.length = 0;
    const slow = rawClient(
      `POST /upload HTTP/1.1\r\nHost: body.test\r\nContent-Length: 100000\r\n\r\n${"y".repeat(4096)}`,
    );
    const trickle = setInterval(() => slow.socket.write("y"), 300);
    const closedAfter = await Promise.race([slow.closed, sleep(6000).then(() => -1)]);
    clearInterval(trickle);
    expect(closedAfter).toBeGreaterThan(0);
    const next = await get("body.test");
    expect(next.status).toBe(200);
    // The big body never completed upstream.
    expect(bodiesSeen.filter((n) => n === 100_000)).toEqual([]);
  });

  it("requests waiting for a pooled connection get 503 when the queue is full or too slow", async () => {
    const holder = get("queue.test", "/hang"); // takes the only connection for 2.5 s
    await sleep(100);
    const queued = get("queue.test"); // waits, up to the 500 ms queue timeout
    await sleep(100);
    const overflow = await get("queue.test"); // the queue (1) is full
    expect(overflow.status).toBe(503);
    expect(overflow.body).toMatch(/busy: queue full \(1 waiting for a connection\)/);
    const q = await queued;
    expect(q.status).toBe(503);
    expect(q.body).toMatch(/no free connection within 500ms/);
    expect((await holder).status).toBe(200);
  });

  it("limits the requests one client address has in flight, not the others", async () => {
    const a = get("percap.test", "/hang");
    const b = get("percap.test", "/hang");
    await sleep(150);
    const third = await get("percap.test");
    expect(third.status).toBe(429);
    // Another address is not affected: it queues for the connection like anyone else would.
    const other = rawClient(
      "GET /ok HTTP/1.1\r\nHost: percap.test\r\nConnection: close\r\n\r\n",
      "127.0.0.2",
    );
    await other.closed;
    expect(other.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect((await a).status).toBe(200);
    expect((await b).status).toBe(200);
    expect(fx.router.hasService("percap")).toBe(true);
  });
});
