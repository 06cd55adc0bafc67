#!/usr/bin/env node
import { main } from "./main.js";

main(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`baton: ${e.code ? `[${e.code}] ` : ""}${e.message}\n`);
  process.exit(e.code === "BATON_CONFIG_INVALID" ? 2 : 1);
});
