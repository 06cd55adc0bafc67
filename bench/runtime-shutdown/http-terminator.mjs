// (c) http-terminator as its README says: `terminate()` instead of `server.close()`, from the
// application's own SIGTERM handler (it installs none and has no preStop delay).
import { createHttpTerminator } from "http-terminator";
import { createService, DRAIN_MS, listen } from "./service.mjs";

const { server } = createService();
const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: DRAIN_MS });
listen(server);
process.on("SIGTERM", async () => {
  await terminator.terminate();
  process.exit(0);
});
