// (e) No library: `server.close()` at SIGTERM, exit when it calls back.
import { createService, listen } from "./service.mjs";

const { server } = createService();
listen(server);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
