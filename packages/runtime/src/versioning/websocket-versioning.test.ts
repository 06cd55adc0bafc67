import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { type Quote, quoteOf, quotesV2, type Subscribe } from "../test-support/versioning-quotes.js";
import { type WebSocketVersioning, webSocketVersioning } from "./websocket-versioning.js";

/** The quotes feed, written once against quotes.v2: a subscription is answered with a quote per symbol. */
async function quotesServer(options: { defaultProtocol?: string } = {}) {
  const registry = new Registry();
  const errors: string[] = [];
  const quotes: WebSocketVersioning<Subscribe, Quote> = webSocketVersioning({
    protocols: ["quotes.v1", "quotes.v2"],
    changes: [quotesV2],
    maxPayload: 4096,
    registry,
    onError: (e, protocol) => errors.push(`${protocol}: ${e.message}`),
    ...options,
  });
  const server = createServer();
  const wss = new WebSocketServer({ server, path: "/quotes", ...quotes.serverOptions });
  wss.on("connection", (ws) => {
    quotes.accept(ws).onMessage((m, session) => {
      if (m.symbols.includes("BOOM")) throw new Error("handler bug on BOOM");
      for (const symbol of m.symbols) session.send(quoteOf(symbol));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/quotes`;
  return {
    url,
    quotes,
    registry,
    errors,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const opened = (ws: WebSocket) =>
  new Promise<WebSocket>((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
const next = (ws: WebSocket) =>
  new Promise<any>((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString()))));
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
/** The refusal a client gets instead of an upgrade: status and JSON body. */
const refused = (ws: WebSocket) =>
  new Promise<{ status: number; body: any; contentTypes: string[] }>((resolve) => {
    ws.on("error", () => {});
    ws.once("unexpected-response", (_req, res: IncomingMessage) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => {
        // Every Content-Type line the server wrote: exactly one, and it says JSON.
        const contentTypes = res.rawHeaders.filter(
          (_, i) => i % 2 === 1 && /^content-type$/i.test(res.rawHeaders[i - 1]!),
        );
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), contentTypes });
      });
    });
  });
/** Waits (bounded) for something the server does after the client saw its part. */
async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`still not true after 2 s: ${what}`);
}

describe("quotes feed, one handler for quotes.v1 and quotes.v2", () => {
  let s: Awaited<ReturnType<typeof quotesServer>>;
  beforeAll(async () => {
    s = await quotesServer();
  });
  afterAll(() => s?.close());

  it("negotiates the newest protocol both sides speak, whatever order the client lists them in", async () => {
    for (const [offered, chosen] of [
      [["quotes.v2", "quotes.v1"], "quotes.v2"],
      [["quotes.v1", "quotes.v2"], "quotes.v2"],
      [["quotes.v1"], "quotes.v1"],
      [["quotes.v9", "quotes.v1"], "quotes.v1"],
    ] as const) {
      const ws = await opened(new WebSocket(s.url, [...offered]));
      expect(ws.protocol).toBe(chosen);
      ws.close();
    }
  });

  it("translates both ways: a v1 client subscribes and reads v1 quotes, a v2 client v2 ones", async () => {
    const v1 = await opened(new WebSocket(s.url, ["quotes.v1"]));
    const v2 = await opened(new WebSocket(s.url, ["quotes.v2"]));
    const [q1, q2] = [next(v1), next(v2)];
    v1.send(JSON.stringify({ subscribe: "ACME" }));
    v2.send(JSON.stringify({ type: "subscribe", symbols: ["INIT"] }));
    expect(await q1).toEqual({ type: "quote", symbol: "ACME", price: 101.5 });
    expect(await q2).toEqual(quoteOf("INIT"));
    // broadcast: written once per protocol, sent to each in its own.
    const [b1, b2] = [next(v1), next(v2)];
    expect(s.quotes.broadcast(quoteOf("ZZZ", 7))).toBeGreaterThanOrEqual(2);
    expect(await b1).toEqual({ type: "quote", symbol: "ZZZ", price: 7 });
    expect((await b2).price).toEqual({ amount: 7, currency: "USD" });
    v1.close();
    v2.close();
  });

  it("refuses a client that speaks no supported protocol with a 400 listing them, before the upgrade", async () => {
    for (const offered of [["quotes.v3"], []]) {
      const r = await refused(new WebSocket(s.url, offered));
      expect(r.status).toBe(400);
      expect(r.contentTypes).toEqual(["application/json"]);
      expect(r.body).toMatchObject({ offered, supported: ["quotes.v2", "quotes.v1"] });
      expect(r.body.error).toMatch(/supported: quotes.v2, quotes.v1/);
    }
    expect(await s.registry.metrics()).toContain("baton_websocket_connections_refused_total 2");
  });

  it("closes on malformed messages (1007, 1003, 1009) and handler bugs (1011), and keeps serving", async () => {
    const cases: [string[], (ws: WebSocket) => void, number, RegExp][] = [
      [["quotes.v2"], (ws) => ws.send("{not json"), 1007, /not JSON/],
      [
        ["quotes.v1"],
        (ws) => ws.send(JSON.stringify({ type: "subscribe", symbols: ["A"] })),
        1007,
        /cannot read a quotes.v1 body as quotes.v2/,
      ],
      [["quotes.v2"], (ws) => ws.send(Buffer.from([1, 2, 3])), 1003, /binary/],
      [["quotes.v2"], (ws) => ws.send("x".repeat(10_000)), 1009, /./],
      [
        ["quotes.v2"],
        (ws) => ws.send(JSON.stringify({ type: "subscribe", symbols: ["BOOM"] })),
        1011,
        /internal error/,
      ],
    ];
    for (const [protocols, misbehave, code, reason] of cases) {
      const ws = await opened(new WebSocket(s.url, protocols));
      const end = closed(ws);
      misbehave(ws);
      const got = await end;
      expect(got.code, `${protocols} → ${got.reason}`).toBe(code);
      if (code !== 1009) expect(got.reason).toMatch(reason);
    }
    expect(s.errors.join("\n")).toMatch(/handler bug on BOOM/);
    const ws = await opened(new WebSocket(s.url, ["quotes.v1"]));
    const q = next(ws);
    ws.send(JSON.stringify({ subscribe: "STILL" }));
    expect((await q).symbol).toBe("STILL");
    ws.close();
  });

  it("reports open connections per protocol and connections opened, to watch v1's share fall", async () => {
    await until("earlier sessions closed", () => s.quotes.sessions.size === 0);
    const gauge = async (protocol: string) =>
      new RegExp(`baton_websocket_connections_open\\{protocol="${protocol}"\\} (\\d+)`).exec(
        await s.registry.metrics(),
      )?.[1];
    const v1s = await Promise.all([1, 2].map(() => opened(new WebSocket(s.url, ["quotes.v1"]))));
    const v2 = await opened(new WebSocket(s.url, ["quotes.v2", "quotes.v1"]));
    await until("three sessions", () => s.quotes.sessions.size === 3);
    expect([await gauge("quotes.v1"), await gauge("quotes.v2")]).toEqual(["2", "1"]);
    v1s[0]!.close();
    await until("one v1 session left", async () => (await gauge("quotes.v1")) === "1");
    const text = await s.registry.metrics();
    expect(text).toMatch(/baton_websocket_connections_opened_total\{protocol="quotes.v1"\} \d+/);
    for (const ws of [...v1s, v2]) ws.close();
  });
});

describe("a default protocol for clients that predate negotiation", () => {
  it("speaks quotes.v1 to a client that offers no protocol", async () => {
    const s = await quotesServer({ defaultProtocol: "quotes.v1" });
    try {
      const ws = await opened(new WebSocket(s.url));
      expect(ws.protocol).toBe("");
      const q = next(ws);
      ws.send(JSON.stringify({ subscribe: "OLD" }));
      expect(await q).toEqual({ type: "quote", symbol: "OLD", price: 101.5 });
      ws.close();
    } finally {
      await s.close();
    }
  });
});
