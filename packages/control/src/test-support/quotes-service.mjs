// A quotes feed over WebSocket, for the release test of protocol versioning (run by LocalProvider
// with PORT and BATON_VERSION). BATON_VERSION "v1" runs the old code: it speaks quotes.v1 only,
// and its model is v1's. Any other version runs the new code: its one handler is written against
// quotes.v2, and @baton/runtime speaks quotes.v1 to older clients through the change.
//
//   quotes.v1  client: {"subscribe": "ACME"}                      server: {type: "quote", symbol, price}
//   quotes.v2  client: {"type": "subscribe", "symbols": [...]}     server: {type: "quote", symbol, price: {amount, currency}, ts}
//   both       server, on connect: {type: "hello", version}        (which version's code serves the session)
import { createServer } from "node:http";
import { webSocketVersioning } from "@baton/runtime";
import { register } from "prom-client";
import { WebSocketServer } from "ws";

const version = process.env.BATON_VERSION ?? "dev";
const oldCode = version === "v1";

const quotesV2 = {
  version: "quotes.v2",
  description: "price becomes {amount, currency} with a timestamp; subscribe takes a list of symbols",
  fromClient: (m) => {
    if (typeof m?.subscribe !== "string") throw new Error('expected {"subscribe": "<symbol>"}');
    return { type: "subscribe", symbols: [m.subscribe] };
  },
  toClient: (m) => (m.type === "quote" ? { type: "quote", symbol: m.symbol, price: m.price.amount } : m),
};

const quotes = oldCode
  ? webSocketVersioning({ protocols: ["quotes.v1"] })
  : webSocketVersioning({ protocols: ["quotes.v1", "quotes.v2"], changes: [quotesV2] });

/** The handler of each version's code, against its own newest model. */
const onMessage = oldCode
  ? (m, session) => session.send({ type: "quote", symbol: String(m.subscribe), price: 100 })
  : (m, session) => {
      for (const symbol of m.symbols)
        session.send({ type: "quote", symbol, price: { amount: 100, currency: "USD" }, ts: Date.now() });
    };

const server = createServer(async (req, res) => {
  if (req.url === "/health/ready" || req.url === "/health/live") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end(JSON.stringify({ status: "ready", version }));
  }
  if (req.url === "/metrics") {
    res.writeHead(200, { "content-type": register.contentType });
    return res.end(await register.metrics());
  }
  res.writeHead(404).end();
});
const wss = new WebSocketServer({ server, path: "/quotes", ...quotes.serverOptions });
wss.on("connection", (ws) => {
  const session = quotes.accept(ws).onMessage(onMessage);
  session.send({ type: "hello", version });
});

server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
process.on("SIGTERM", () => {
  for (const s of quotes.sessions) s.close(1001, "server shutting down");
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
