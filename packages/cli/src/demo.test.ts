import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

describe("npm start (baton demo)", () => {
  it("releases v2 with no failed request, rolls v3 back by itself, stops a failing flag, then cleans up", async () => {
    const out = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, [BIN, "demo"], { timeout: 120_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out).toContain("release v2: succeeded");
    expect(out).toMatch(/release v3: rolled-back: error rate 0\.\d+ > /);
    expect(out).toMatch(/requests failed during v2's release 0\n/);
    // A duration as people read it: "4.2s" (a minute or more would read "1m5s" and fail here).
    const seconds = Number(/first traffic to rollback\s+([\d.]+)s\n/.exec(out)?.[1]);
    expect(seconds).toBeLessThan(15);
    expect(out).toMatch(/flag new-checkout: rolled-back at 0%: at 25%, with the flag on: error rate /);
    expect(out).toMatch(/audit log\s+\d+ events, chain verified/);
  }, 150_000);
});
