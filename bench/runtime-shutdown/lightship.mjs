// (d) lightship 9 as its README says: `createLightship`, `registerShutdownHandler(() =>
// server.close())`, `signalReady()` once listening. `shutdownDelay` is its preStop; its probe
// server listens on a port of its own (0 here: any free one).
import { createLightship } from "lightship";
import { createService, DRAIN_MS, listen, PRESTOP_MS } from "./service.mjs";

const lightship = await createLightship({
  detectKubernetes: false,
  port: 0,
  shutdownDelay: PRESTOP_MS,
  shutdownHandlerTimeout: DRAIN_MS,
  gracefulShutdownTimeout: DRAIN_MS * 2,
});
const { server } = createService();
lightship.registerShutdownHandler(() => {
  server.close();
});
listen(server, () => lightship.signalReady());
