import { Command } from "commander";
import { registerClientCommands } from "./commands/client-commands.js";
import { registerFlagsCommands } from "./commands/flags-commands.js";
import { registerMigrateCommands } from "./commands/migrate-commands.js";

// The commands that run the control plane, the router or the demo load their packages when they
// run: a client command (`baton status`, `baton flags list`) needs only an HTTP client, and
// loading the control plane's server, database driver and router took it 0.7 s.

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name("baton")
    .description("Zero-downtime releases: router, releases, online migrations.")
    .version("0.1.0")
    // `baton deploy --version v2` names a release; only `baton --version` is Baton's own.
    .enablePositionalOptions()
    // Usage mistakes exit 2, like every "could not do it"; 1 means a release was rolled back.
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      process.exit(2);
    });
  program
    .command("router")
    .description("run the data plane (the traffic router) alone")
    .requiredOption("-c, --config <file>", "router config file (YAML)")
    .option("--log-level <level>", "trace, debug, info, warn or error", process.env.BATON_LOG_LEVEL ?? "info")
    .action(async (opts: { config: string; logLevel: string }) =>
      (await import("./commands/router-command.js")).runRouter(opts),
    );
  program
    .command("init")
    .description("write a commented baton.yaml for the service in this directory")
    .option("-f, --file <file>", "the file to write", "baton.yaml")
    .option("--listen <port>", "the router's public port for the service", "8080")
    .option("--force", "overwrite an existing file")
    .action(async (o: { file: string; listen: string; force?: boolean }) => {
      const listen = Number(o.listen);
      if (!Number.isInteger(listen) || listen < 1 || listen > 65_535)
        throw new Error(`--listen ${o.listen}: expected a port number (1-65535)`);
      const { runInit } = await import("./commands/init-command.js");
      return runInit({ file: o.file, listen, ...(o.force ? { force: true } : {}) });
    });
  program
    .command("up")
    .description("run the control plane and its API, and the router as its own process")
    .option("-f, --file <file>", "the service file", "baton.yaml")
    .option("--data-dir <dir>", "state, logs and the embedded database (default: .baton beside the file)")
    .option(
      "--api-host <host>",
      "where the API listens (beyond loopback it needs BATON_API_TOKEN)",
      "127.0.0.1",
    )
    .option("--api-port <port>", "the API's port (0: any free one)", "7070")
    .option("--listen-host <host>", "the address the router's public port binds to", "0.0.0.0")
    .action(
      async (o: { file: string; dataDir?: string; apiHost: string; apiPort: string; listenHost: string }) =>
        (await import("./commands/up-command.js")).runUp({
          file: o.file,
          ...(o.dataDir ? { dataDir: o.dataDir } : {}),
          apiHost: o.apiHost,
          apiPort: Number(o.apiPort),
          listenHost: o.listenHost,
        }),
    );
  registerClientCommands(program);
  registerMigrateCommands(program);
  registerFlagsCommands(program);
  program
    .command("demo")
    .description("start example instances behind a router, move traffic under load, and report")
    .option("--keep", "keep everything running (and the dashboard) after the summary, until Ctrl-C")
    .action(async (o: { keep?: boolean }) =>
      (await import("./commands/demo-command.js")).runDemo(o.keep ? { keep: true } : {}),
    );
  program
    .command("schema")
    .description("print the JSON Schema of baton.yaml, for editors")
    .action(async () => {
      const { serviceFileJsonSchema } = await import("@baton/control");
      process.stdout.write(`${JSON.stringify(serviceFileJsonSchema(), null, 2)}\n`);
    });
  await program.parseAsync(argv);
}
