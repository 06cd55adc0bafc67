#!/usr/bin/env node
import { main } from "./main.js";

// `baton status | head -1`: the reader left; nothing more to say, and no stack trace about it.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv).catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`baton: ${e.code ? `[${e.code}] ` : ""}${e.message}\n`);
  // 1 is kept for "the release was rolled back or failed" (baton deploy --wait), so CI can tell.
  process.exit(2);
});
