#!/usr/bin/env node
import { main } from "./main.js";

main(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`baton: ${e.code ? `[${e.code}] ` : ""}${e.message}\n`);
  // 1 is kept for "the release was rolled back or failed" (baton deploy --wait), so CI can tell.
  process.exit(2);
});
