// The one service every shutdown variant runs: node:http, `GET /work` answering after 200-300 ms
// (a database call, say), `GET /` at once, and a `ws` WebSocket server echoing on the same port.
// The variant adds only its shutdown library. Settings come from the parent (bench/runtime-bench.js)
// in the environment, so every variant gets the same preStop and drain budget.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

/** Serving on after the signal, where the library has such a delay (readiness 503 meanwhile). */
export const PRESTOP_MS = Number(process.env.BENCH_PRESTOP_MS ?? 1000);
/** How long in-flight work may take before it is cut, where the library has such a timeout. */
export const DRAIN_MS = Number(process.env.BENCH_DRAIN_MS ?? 5000);

/** The service, with a request listener the variant may wrap (terminus adds its health routes). */
export function createService(extra) {
  let n = 0;
  const server = createServer((req, res) => {
    if (extra?.(req, res)) return;
    if (req.url === "/work") {
      // 200-300 ms, spread evenly and the same sequence in every variant.
      const ms = 200 + ((n++ * 37) % 101);
      setTimeout(() => res.end(`done in ${ms} ms\n`), ms);
      return;
    }
    res.end("ok\n");
  });
  const wss = new WebSocketServer({ server, path: "/ws" });
  wss.on("connection", (socket) => socket.on("message", (data) => socket.send(data)));
  return { server, wss };
}

/** Listens on a free loopback port and tells the parent which. */
export function listen(server, onListening) {
  server.listen(0, "127.0.0.1", () => {
    onListening?.();
    process.send?.({ port: server.address().port });
  });
}
