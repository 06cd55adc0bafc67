/**
 * A small HTTP + WebSocket service that reports its version. The demo, the tests and the
 * benchmarks run it as real child processes. Behaviour is set by environment variables:
 *
 *   PORT             port to listen on (0 picks one; the chosen port is printed as JSON on stdout)
 *   HOST             address to bind (default 127.0.0.1)
 *   BATON_VERSION    version it reports (default "dev")
 *   FAIL_RATE        fraction of ordinary requests answered with 500 (default 0)
 *   FAIL_REGION      apply FAIL_RATE only when BATON_REGION is this region
 *   DELAY_MS         added latency per ordinary request (default 0)
 *   READY_DELAY_MS   readiness fails until this long after start (default 0)
 *   NEVER_READY      "1": readiness always fails
 *   RECEIVED_LOG     file to append the x-request-id of every POST to, as soon as it arrives
 *   BATON_FLAGS_URL, BATON_FLAGS_TOKEN
 *                    read feature flags from Baton's client API (http://127.0.0.1:7070/api and a
 *                    client token), for the user in `x-user-id`, and report request outcomes
 *   FLAG_FAILS       "name:rate,...": a request that sees flag `name` on fails with probability
 *                    `rate` (a risky code path behind a flag; rate 0 is a harmless flag)
 */
import { appendFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createFlagClient, type FlagClient, withFlagOutcomes } from "@baton/flags";
import { WebSocketServer } from "ws";

const version = process.env.BATON_VERSION ?? "dev";
// FAIL_REGION limits FAIL_RATE to the instances of one region (BATON_REGION), for release-wave tests.
const failRate =
  !process.env.FAIL_REGION || process.env.FAIL_REGION === process.env.BATON_REGION
    ? Number(process.env.FAIL_RATE ?? 0)
    : 0;
const delayMs = Number(process.env.DELAY_MS ?? 0);
const readyAt = Date.now() + Number(process.env.READY_DELAY_MS ?? 0);
const neverReady = process.env.NEVER_READY === "1";
const receivedLog = process.env.RECEIVED_LOG;
let shuttingDown = false;
let served = 0;

const flags: FlagClient | undefined = process.env.BATON_FLAGS_URL
  ? createFlagClient({
      url: process.env.BATON_FLAGS_URL,
      token: process.env.BATON_FLAGS_TOKEN ?? "",
      appName: "echo",
      reconnectDelay: { initialMs: 200, maxMs: 2_000 },
    })
  : undefined;
const flagFails = (process.env.FLAG_FAILS ?? "")
  .split(",")
  .filter(Boolean)
  .map((pair) => {
    const [name = "", rate = "0"] = pair.split(":");
    return { name, rate: Number(rate) };
  });

/** Whether this request takes a flagged code path that fails (each flag it sees is evaluated). */
function flaggedFailure(req: IncomingMessage): boolean {
  if (!flags) return false;
  const userId = String(req.headers["x-user-id"] ?? "");
  let failed = false;
  for (const { name, rate } of flagFails)
    if (flags.isEnabled(name, userId ? { userId } : {}) && Math.random() < rate) failed = true;
  return failed;
}

const handler = (req: IncomingMessage, res: ServerResponse) => {
  const url = req.url ?? "/";
  if (url === "/health/live") return reply(res, 200, { status: "live", version });
  if (url === "/health/ready") {
    const ready = !neverReady && !shuttingDown && Date.now() >= readyAt;
    return reply(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", version });
  }
  if (req.method === "POST" && receivedLog) {
    // Recorded on arrival, before anything else: a test counts how often each POST reached us.
    appendFileSync(receivedLog, `${req.headers["x-request-id"] ?? "-"}\n`);
  }
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const answer = () => {
      served++;
      if (flaggedFailure(req)) return reply(res, 500, { error: "flagged code path failed", version });
      if (failRate > 0 && Math.random() < failRate)
        return reply(res, 500, { error: "injected failure", version });
      const body = Buffer.concat(chunks);
      reply(res, 200, { version, pid: process.pid, method: req.method, url, bytes: body.length, served });
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
};
const server = createServer(flags ? withFlagOutcomes(flags, handler) : handler);

function reply(res: import("node:http").ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "x-app-version": version,
  });
  res.end(text);
}

const wss = new WebSocketServer({ server, path: "/ws" });
wss.on("connection", (ws) => {
  ws.send(JSON.stringify({ hello: version, pid: process.pid }));
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});

server.keepAliveTimeout = 5_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1", () => {
  const port = (server.address() as AddressInfo).port;
  process.stdout.write(`${JSON.stringify({ event: "listening", port, version, pid: process.pid })}\n`);
});

// Graceful stop: fail readiness, finish in-flight requests, close WebSockets with 1001.
process.on("SIGTERM", () => {
  shuttingDown = true;
  void flags?.close();
  for (const ws of wss.clients) ws.close(1001, "server shutting down");
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 10_000).unref();
});
