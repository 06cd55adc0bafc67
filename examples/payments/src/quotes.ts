/**
 * The quotes feed over WebSocket (`/quotes`), with two protocols negotiated through
 * `Sec-WebSocket-Protocol` (`webSocketVersioning` from @baton/runtime):
 *
 *   quotes.v1  client {"subscribe": "ACME"}                   server {type: "quote", symbol, price}
 *   quotes.v2  client {"type": "subscribe", "symbols": [...]}  server {type: "quote", symbol, price: {amount, currency}, ts}
 *   both       server, on connect: {type: "hello", version}   (the release serving the session)
 *
 * Release 1's code speaks quotes.v1 only; release 2's speaks both, written against quotes.v2, so a
 * quotes.v1 client that reconnects to v2 during the release reads exactly what it read before.
 */
import type { Server } from "node:http";
import { type ProtocolChange, webSocketVersioning } from "@baton/runtime";
import { WebSocketServer } from "ws";

export interface Quote {
  type: "quote";
  symbol: string;
  price: { amount: number; currency: string };
  ts: number;
}
export interface QuoteV1 {
  type: "quote";
  symbol: string;
  price: number;
}

export const quotesV2: ProtocolChange = {
  version: "quotes.v2",
  description: "price becomes {amount, currency} with a timestamp; subscribe takes a list of symbols",
  fromClient: (m: { subscribe?: unknown }) => {
    if (typeof m?.subscribe !== "string") throw new Error('expected {"subscribe": "<symbol>"}');
    return { type: "subscribe", symbols: [m.subscribe] };
  },
  toClient: (m: Quote | { type: string }) =>
    m.type === "quote" ? { type: "quote", symbol: (m as Quote).symbol, price: (m as Quote).price.amount } : m,
};

/** A price that moves: the same for every instance at the same moment (no shared state needed). */
export function priceOf(symbol: string, at = Date.now()): number {
  let seed = 0;
  for (const c of symbol) seed = (seed * 31 + c.charCodeAt(0)) % 1000;
  return Math.round((100 + seed / 10 + 5 * Math.sin(at / 7000 + seed)) * 100) / 100;
}

export function startQuotes(server: Server, release: number, version: string, intervalMs = 250) {
  const newest = release >= 2;
  const feed = newest
    ? webSocketVersioning({ protocols: ["quotes.v1", "quotes.v2"], changes: [quotesV2] })
    : webSocketVersioning({ protocols: ["quotes.v1"] });
  const wss = new WebSocketServer({ server, path: "/quotes", ...feed.serverOptions });
  const subscriptions = new Map<ReturnType<typeof feed.accept>, Set<string>>();

  wss.on("connection", (ws) => {
    const symbols = new Set<string>();
    const session = feed.accept(ws).onMessage((m) => {
      // Each release's handler reads its own newest model.
      const wanted = newest
        ? (m as { symbols?: unknown }).symbols
        : [(m as { subscribe?: unknown }).subscribe];
      if (!Array.isArray(wanted) || !wanted.every((s) => typeof s === "string" && s.length <= 16))
        return session.close(1007, "expected symbols");
      for (const s of wanted) symbols.add(s);
    });
    subscriptions.set(session, symbols);
    ws.on("close", () => subscriptions.delete(session));
    session.send({ type: "hello", version });
  });

  const tick = setInterval(() => {
    const ts = Date.now();
    for (const [session, symbols] of subscriptions)
      for (const symbol of symbols) {
        const quote: Quote = {
          type: "quote",
          symbol,
          price: { amount: priceOf(symbol, ts), currency: "USD" },
          ts,
        };
        session.send(newest ? quote : quotesV2.toClient!(quote, { protocol: "quotes.v1" } as never));
      }
  }, intervalMs);
  tick.unref();
  return { wss, feed, stop: () => clearInterval(tick) };
}
