import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RouterFixture, startRouter } from "./test-support/router-fixture.js";

/** A real upstream that records what reached it. */
let upstream: Server;
let upgradesSeen = 0;
const seen: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
let fx: RouterFixture;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    if (req.url === "/chunked-big") {
      // A slow reader: the router's writes to it back up, which is what this path is for.
      req.pause();
      setTimeout(() => req.resume(), 300);
    }
    req.on("end", () => {
      seen.push({ url: req.url!, headers: req.headers, body });
      if (req.url === "/big") return void res.end(Buffer.alloc(8 * 1024 * 1024, 120));
      if (req.url === "/gzip-te") {
        // Node frames the body chunked itself whenever the header names chunked.
        res.writeHead(200, { "transfer-encoding": "gzip, chunked" });
        return void res.end("pretend-gzip");
      }
      res.writeHead(200, {
        connection: "keep-alive, x-internal",
        "x-internal": "secret",
        "keep-alive": "timeout=5",
      });
      res.end("ok");
    });
  });
  upstream.on("upgrade", (_req, socket) => {
    upgradesSeen++;
    socket.destroy();
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const port = (upstream.address() as AddressInfo).port;
  fx = await startRouter(
    [
      {
        name: "svc",
        tracks: { stable: { version: "v1", weight: 10_000, instances: [`127.0.0.1:${port}`] } },
      },
      {
        // One connection per instance, so that a test can tell whether a pooled one still works.
        name: "one",
        hosts: ["one.test"],
        maxConnectionsPerInstance: 1,
        timeouts: { response: "3s" },
        tracks: { stable: { version: "v1", weight: 10_000, instances: [`127.0.0.1:${port}`] } },
      },
    ],
    { limits: { maxHeaderBytes: 8192, maxHeaderCount: 50, headersTimeout: "1s", requestTimeout: "2s" } },
  );
});
afterAll(async () => {
  await fx?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

/** Sends raw bytes on a fresh connection; resolves with everything received until close (or 5 s). */
function raw(payload: string | string[], gapMs = 0): Promise<{ text: string; closedAfterMs: number }> {
  const { port } = new URL(fx.url);
  const started = Date.now();
  return new Promise((resolve) => {
    const s = connect(Number(port), "127.0.0.1");
    let text = "";
    s.on("data", (d) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve({ text, closedAfterMs: Date.now() - started }));
    const parts = Array.isArray(payload) ? payload : [payload];
    parts.forEach((p, i) => {
      setTimeout(() => {
        if (!s.destroyed) s.write(p);
      }, i * gapMs);
    });
    setTimeout(() => s.destroy(), 5000);
  });
}

async function get(path = "/ok"): Promise<number> {
  const res = await request(`${fx.url}${path}`);
  await res.body.dump();
  return res.statusCode;
}

describe("hardening", () => {
  it("refuses request smuggling attempts and none of them reach the instance", async () => {
    seen.length = 0;
    const attempts = [
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
      "GET / HTTP/1.1\nHost: x\n\n",
    ];
    for (const a of attempts) {
      const { text } = await raw(a);
      expect(text, JSON.stringify(a)).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect(seen.filter((s) => s.url.includes("smuggled"))).toEqual([]);
    expect(await get()).toBe(200);
  });

  it("answers 431 to oversized headers and to too many headers", async () => {
    const big = await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(10_000)}\r\n\r\n`);
    expect(big.text).toMatch(/^HTTP\/1\.1 431 /);
    const many = Array.from({ length: 60 }, (_, i) => `X-H${i}: v\r\n`).join("");
    const lots = await raw(`GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
    expect(lots.text).toMatch(/^HTTP\/1\.1 431 /);
  });

  it("times out a slowloris client and a stalled body while serving everyone else", async () => {
    const trickle = [
      "GET / HTTP/1.1\r\n",
      "Host: x\r\n",
      ...Array.from({ length: 20 }, (_, i) => `X-${i}: y\r\n`),
    ];
    const slowHeaders = raw(trickle, 300);
    const slowBody = raw("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-a-little");
    const others: number[] = [];
    const stop = Date.now() + 2500;
    while (Date.now() < stop) others.push(await get());
    const [h, b] = await Promise.all([slowHeaders, slowBody]);
    expect(h.closedAfterMs).toBeLessThan(4000); // headers timeout 1s (+ the 1s checking interval)
    expect(b.closedAfterMs).toBeLessThan(4500); // request timeout 2s
    expect(b.text === "" || /^HTTP\/1\.1 (408|400|502)/.test(b.text)).toBe(true);
    expect(others.length).toBeGreaterThan(50);
    expect(others.every((s) => s === 200)).toBe(true);
  });

  it("strips hop-by-hop headers both ways and sets X-Forwarded-For/Proto", async () => {
    seen.length = 0;
    // Raw bytes: HTTP clients (undici included) will not send a Connection header naming other headers.
    const { text } = await raw(
      "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, X-Hop\r\nX-Hop: must not pass\r\n" +
        "Proxy-Authorization: Basic abc\r\nTE: trailers\r\nKeep-Alive: 300\r\nX-Forwarded-For: 203.0.113.7\r\n" +
        "X-Forwarded-Proto: https-spoofed\r\nX-Keep: yes\r\n\r\n",
    );
    const h = seen[0]!.headers;
    expect(h["x-hop"]).toBeUndefined();
    expect(h["proxy-authorization"]).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h["keep-alive"]).toBeUndefined();
    expect(h["x-keep"]).toBe("yes");
    // No trusted proxies configured: the client's own X-Forwarded-* are replaced, not extended.
    expect(h["x-forwarded-for"]).toBe("127.0.0.1");
    expect(h["x-forwarded-proto"]).toBe("http");
    // The instance's own hop-by-hop header (named in its Connection header) does not reach the client.
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text.toLowerCase()).not.toContain("x-internal");
    expect(text.toLowerCase()).toContain("x-baton-version: v1");
  });

  it("never lets a client's Connection header remove Host or the router's X-Forwarded-*", async () => {
    seen.length = 0;
    await raw(
      "GET /conn-1 HTTP/1.1\r\nHost: x\r\nConnection: close, x-forwarded-for, x-forwarded-proto\r\n\r\n",
    );
    await raw("GET /conn-2 HTTP/1.1\r\nHost: x\r\nConnection: close, host\r\n\r\n");
    expect(seen.map((s) => s.url)).toEqual(["/conn-1", "/conn-2"]);
    for (const { headers } of seen) {
      expect(headers.host).toBe("x");
      expect(headers["x-forwarded-for"]).toBe("127.0.0.1");
      expect(headers["x-forwarded-proto"]).toBe("http");
    }
  });

  it("drops underscore aliases of hop-by-hop and framing headers", async () => {
    seen.length = 0;
    const { text } = await raw(
      "POST /underscore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\n" +
        "Content_Length: 99\r\nX_Forwarded_For: 203.0.113.9\r\nX_Custom: kept\r\nConnection: close\r\n\r\nhello",
    );
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    const h = seen[0]!.headers;
    expect(seen[0]!.body).toBe("hello");
    expect(h.transfer_encoding).toBeUndefined();
    expect(h.content_length).toBeUndefined();
    expect(h.x_forwarded_for).toBeUndefined();
    expect(h.x_custom).toBe("kept");
  });

  it("answers 501 to transfer codings other than chunked instead of dropping them", async () => {
    seen.length = 0;
    const { text } = await raw(
      "POST /gzip HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    expect(text).toMatch(/^HTTP\/1\.1 501 /);
    expect(seen).toEqual([]);
    // A response's codings reach the client: only the chunked framing is the router's to redo.
    const res = await raw("GET /gzip-te HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    expect(res.text.toLowerCase()).toContain("transfer-encoding: gzip, chunked");
    expect(res.text).toContain("pretend-gzip");
  });

  it("forwards request bodies, chunked or with a length, byte for byte", async () => {
    seen.length = 0;
    const payload = "x".repeat(300_000);
    const res = await request(`${fx.url}/upload`, { method: "POST", body: payload });
    await res.body.dump();
    // A stream of unknown length: undici sends it with Transfer-Encoding: chunked.
    const res2 = await request(`${fx.url}/chunked`, {
      method: "POST",
      body: Readable.from(["part-1;", "part-2"]),
    });
    await res2.body.dump();
    expect(seen.map((s) => s.body.length)).toEqual([300_000, 13]);
    expect(seen[1]!.body).toBe("part-1;part-2");
  });

  it("forwards a large chunked upload intact under backpressure", async () => {
    seen.length = 0;
    const parts = Array.from({ length: 64 }, (_, i) =>
      Buffer.alloc(64 * 1024, 65 + (i % 26)).toString("latin1"),
    );
    const res = await request(`${fx.url}/chunked-big`, { method: "POST", body: Readable.from(parts) });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    const digest = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(digest(seen[0]!.body)).toBe(digest(parts.join("")));
  });

  it("keeps serving on a connection that carried a large response to a slow client", async () => {
    const slow = await request(`${fx.url}/big`, { headers: { host: "one.test" } });
    await new Promise((r) => setTimeout(r, 500)); // the client does not read: the router must pause the instance
    let bytes = 0;
    for await (const c of slow.body) bytes += (c as Buffer).length;
    expect(bytes).toBe(8 * 1024 * 1024);
    // One connection per instance here: the next request reuses the one that was paused.
    const t = Date.now();
    const next = await request(`${fx.url}/after-big`, { headers: { host: "one.test" } });
    await next.body.dump();
    expect(next.statusCode).toBe(200);
    expect(Date.now() - t).toBeLessThan(2000);
  });

  it("refuses a bad WebSocket handshake without opening anything to the instance", async () => {
    const { text } = await raw(
      "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    await new Promise((r) => setTimeout(r, 200));
    expect(upgradesSeen).toBe(0);
  });
});
