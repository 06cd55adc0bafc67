#!/usr/bin/env node
// The `baton` command as npm links it. npm links a bin only if its target exists at install time,
// and in a fresh clone `dist/` is built after the install (by the root's `prepare`), so the link
// points here, at a file that is committed, and this loads the build.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const built = new URL("../dist/bin.js", import.meta.url);
if (!existsSync(fileURLToPath(built))) {
  process.stderr.write(
    `baton: not built yet (${fileURLToPath(built)} is missing); run \`npm run build\` at the repository's root\n`,
  );
  process.exit(2);
}
await import(built.href);
