// A service whose readiness path is a setting of the version, for the release tests that change
// baton.yaml's health.readiness (run by LocalProvider with PORT and BATON_VERSION):
//   READY_PATH  the one path answering 200 to a probe (default /readyz); every other /health/...
//               or /readyz path answers 404, as a version that does not know it would.
// Any other request answers {version, pid} with 200.
import { createServer } from "node:http";

const version = process.env.BATON_VERSION ?? "dev";
const readyPath = process.env.READY_PATH ?? "/readyz";
const server = createServer((req, res) => {
  const url = req.url ?? "/";
  if (url === readyPath) return res.writeHead(200, { "content-type": "text/plain" }).end("ready");
  if (url.startsWith("/health") || url === "/readyz")
    return res.writeHead(404, { "content-type": "text/plain" }).end(`${version} does not serve ${url}`);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ version, pid: process.pid }));
});
server.keepAliveTimeout = 10_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
});
