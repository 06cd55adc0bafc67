// Runs the Vitest projects of vitest.config.ts in three stages: the compute-only files; then the
// CLI's tests and the other system tests side by side, as two Vitest processes (each one file at
// a time: real servers and processes that mostly wait, so two share the two cores well); then the
// timing-sensitive files alone. Exits non-zero if any stage failed, after running them all.
import { spawn } from "node:child_process";

const vitest = (project) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ["node_modules/vitest/vitest.mjs", "run", "--project", project], {
      stdio: "inherit",
    });
    child.on("exit", (code, signal) => resolve(code === 0 && !signal));
  });

const results = [await vitest("compute")];
results.push(...(await Promise.all([vitest("cli"), vitest("system")])));
results.push(await vitest("timing"));
process.exit(results.every(Boolean) ? 0 : 1);
