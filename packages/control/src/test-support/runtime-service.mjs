// A service built on @baton/runtime's gracefulShutdown and health, for the release test that puts
// it behind Baton's router (run by LocalProvider with PORT and BATON_VERSION; it imports the built
// package: `npx tsc -b packages/runtime` first).
//   PRE_STOP_MS   how long it serves on after SIGTERM with readiness at 503 (default 1500: the
//                 router probes every 500 ms and takes an instance out after 2 failures)
//   DELAY_MS      how long each request takes (default 200)
// Any request (GET or POST, its body read) answers {version, pid} after DELAY_MS; /ws is an echo
// WebSocket; /readyz, /livez and /startupz are the health endpoints.
import { createServer } from "node:http";
import { gracefulShutdown, health } from "@baton/runtime";
import { WebSocketServer } from "ws";

const version = process.env.BATON_VERSION ?? "dev";
const delayMs = Number(process.env.DELAY_MS ?? 200);
const h = health();
const server = createServer((req, res) => {
  if (h.handle(req, res)) return;
  let bytes = 0;
  req.on("data", (c) => (bytes += c.length));
  req.on("end", () =>
    setTimeout(() => {
      const body = JSON.stringify({ version, pid: process.pid, bytes });
      res.writeHead(200, { "content-type": "application/json", "x-app-version": version });
      res.end(body);
    }, delayMs),
  );
});
const wss = new WebSocketServer({ server, path: "/ws" });
wss.on("connection", (ws) => {
  ws.send(JSON.stringify({ hello: version, pid: process.pid }));
  ws.on("message", (data) => ws.send(data));
});

gracefulShutdown(server, {
  health: h,
  preStopMs: Number(process.env.PRE_STOP_MS ?? 1500),
  timeoutMs: 8000,
  websockets: { servers: [wss], batchSize: 2, batchIntervalMs: 50 },
});

server.keepAliveTimeout = 10_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
