// A checkout service for the business-metrics tests: every request to / is a checkout, completed
// (201, counted with @baton/runtime) or declined (402: not an error, so the error rate does not
// move). CHECKOUT_RATE (default 1) is the share completed, deterministically: 0.9 declines every
// tenth checkout exactly.
import { createServer } from "node:http";
import { createReleaseMetrics } from "@baton/runtime";

const rate = Number(process.env.CHECKOUT_RATE ?? 1);
const metrics = createReleaseMetrics({ registry: false });
let owed = 0;
const server = createServer((req, res) => {
  if (req.url === "/healthz") return res.end("ok");
  owed += rate;
  const completed = owed >= 1 - 1e-9;
  if (completed) {
    owed -= 1;
    metrics.count("checkout_completed");
  }
  res.writeHead(completed ? 201 : 402, { "content-type": "text/plain" });
  res.end(completed ? "paid\n" : "declined\n");
});
server.listen(Number(process.env.PORT), "127.0.0.1");
process.on("SIGTERM", () => {
  server.close();
  server.closeIdleConnections();
  void metrics.close().finally(() => process.exit(0));
});
