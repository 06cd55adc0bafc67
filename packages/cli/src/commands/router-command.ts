import { basename, dirname, join, resolve } from "node:path";
import { ConfigError, createLogger, loadRouterConfig, Router } from "@baton/router";

export interface RouterCommandOptions {
  config: string;
  logLevel?: string;
}

/**
 * `baton router --config router.yaml`: runs the data plane alone.
 * SIGHUP re-reads the file (a bad file is refused and the running config kept);
 * SIGTERM/SIGINT drain gracefully; a second signal stops at once.
 */
export async function runRouter(opts: RouterCommandOptions): Promise<void> {
  const log = createLogger(opts.logLevel);
  const file = resolve(opts.config);
  const { config, text } = await loadRouterConfig(file);
  const stateFile = config.stateFile
    ? resolve(dirname(file), config.stateFile)
    : join(dirname(file), ".baton", `${basename(file)}.state.json`);
  const router = new Router({ ...config, stateFile }, { logger: log, configText: text });

  // Signal handlers go in before the router announces itself: on Node 20 a listener added in the
  // same tick as the announcement may not be in force yet when a supervisor's first signal lands.
  process.on("SIGHUP", () => {
    loadRouterConfig(file)
      .then(({ config: next, text: nextText }) => router.reload({ ...next, stateFile }, nextText))
      .catch((err: unknown) => {
        const message = err instanceof ConfigError ? err.message : String(err);
        log.error({ file, err: message }, "reload refused; keeping the running configuration");
      });
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, "second signal: stopping now");
      void router.close().then(() => process.exit(1));
      return;
    }
    stopping = true;
    log.info({ signal }, "draining before exit");
    void router.shutdown().then(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));

  await router.start();
  await new Promise((r) => setImmediate(r));
  process.stdout.write(
    `${JSON.stringify({ event: "router-listening", port: router.address.port, adminPort: router.adminAddress?.port ?? null })}\n`,
  );
}
