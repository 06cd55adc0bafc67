import { serviceFileJsonSchema } from "@baton/control";
import { Command } from "commander";
import { runDemo } from "./commands/demo-command.js";
import { runRouter } from "./commands/router-command.js";

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name("baton")
    .description("Zero-downtime releases: router, releases, online migrations.")
    .version("0.1.0");
  program
    .command("router")
    .description("run the data plane (the traffic router) alone")
    .requiredOption("-c, --config <file>", "router config file (YAML)")
    .option("--log-level <level>", "trace, debug, info, warn or error", process.env.BATON_LOG_LEVEL ?? "info")
    .action((opts: { config: string; logLevel: string }) => runRouter(opts));
  program
    .command("demo")
    .description("start example instances behind a router, move traffic under load, and report")
    .action(() => runDemo());
  program
    .command("schema")
    .description("print the JSON Schema of baton.yaml, for editors")
    .action(() => {
      process.stdout.write(`${JSON.stringify(serviceFileJsonSchema(), null, 2)}\n`);
    });
  await program.parseAsync(argv);
}
