// A service using @baton/runtime's gracefulShutdown and health, run as a child process by the
// shutdown tests (it imports the built package: `npx tsc -b packages/runtime` first).
//   PORT          port to listen on (0: any; the port is printed as JSON on stdout)
//   PRE_STOP_MS   preStop delay (default 400)
//   TIMEOUT_MS    hard timeout (default 5000)
// GET /work?ms=N answers after N ms; /ws is an echo WebSocket; /readyz, /livez, /startupz.
import { createServer } from "node:http";
import { gracefulShutdown, health } from "@baton/runtime";
import { WebSocketServer } from "ws";

const h = health();
const server = createServer((req, res) => {
  if (h.handle(req, res)) return;
  const url = new URL(req.url ?? "/", "http://x");
  const ms = Number(url.searchParams.get("ms") ?? 0);
  setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ pid: process.pid, path: url.pathname, ms }));
  }, ms);
});
const wss = new WebSocketServer({ server, path: "/ws" });
wss.on("connection", (ws) => ws.on("message", (data) => ws.send(data)));

gracefulShutdown(server, {
  health: h,
  preStopMs: Number(process.env.PRE_STOP_MS ?? 400),
  timeoutMs: Number(process.env.TIMEOUT_MS ?? 5000),
  websockets: { servers: [wss], batchSize: 5, batchIntervalMs: 30 },
  hooks: [{ name: "flush", run: () => new Promise((r) => setTimeout(r, 20)) }],
});

server.keepAliveTimeout = 10_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ event: "listening", port: server.address().port })}\n`);
});
