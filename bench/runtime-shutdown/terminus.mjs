// (b) @godaddy/terminus as its README's Kubernetes section sets it up: a readiness route,
// `beforeShutdown` sleeping so the load balancer notices, `useExit0`, and a `timeout` before
// connections are forced closed.
import { createTerminus } from "@godaddy/terminus";
import { createService, DRAIN_MS, listen, PRESTOP_MS } from "./service.mjs";

const { server } = createService();
createTerminus(server, {
  signals: ["SIGTERM", "SIGINT"],
  healthChecks: { "/readyz": async () => {} },
  beforeShutdown: () => new Promise((resolve) => setTimeout(resolve, PRESTOP_MS)),
  onSignal: async () => {},
  timeout: DRAIN_MS,
  useExit0: true,
  logger: () => {},
});
listen(server);
