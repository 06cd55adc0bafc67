// (a) @baton/runtime: `gracefulShutdown` with the same preStop, readiness from `health()`, the
// WebSocket server handed over so its clients get 1001, and the drain budget as its hard timeout
// (plus the preStop, which the others count apart).
import { gracefulShutdown, health, silentShutdownLogger } from "../../packages/runtime/dist/index.js";
import { createService, DRAIN_MS, listen, PRESTOP_MS } from "./service.mjs";

const h = health();
const { server, wss } = createService((req, res) => h.handle(req, res));
gracefulShutdown(server, {
  health: h,
  preStopMs: PRESTOP_MS,
  timeoutMs: PRESTOP_MS + DRAIN_MS,
  websockets: [wss],
  logger: silentShutdownLogger,
});
listen(server);
