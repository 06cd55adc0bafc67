import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { startLoad } from "../../router/src/test-support/load.js";
import { batonCli, exitOf, startBatonUp } from "./test-support/baton-cli.js";

/**
 * A user's whole path to a guarded rollout, through `baton up`: the service (the example, which
 * reads flags) gets the flag API's address and a client token from `baton up` with no set-up, its
 * users' requests go through the router, and `baton flags rollout --steps` follows the rollout
 * to its verdict.
 */
const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let port: number;
let up: (ChildProcess & { said: () => string }) | undefined;
const env = () => ({ DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema });
const baton = (...args: string[]) => batonCli(args, dir, env());

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-up-flags-"));
  await chmod(dir, 0o755);
  schema = await testSchema("upflags");
  port = await freePort();
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${port}
instances: 2
run: ${process.execPath} ${join(ECHO_DIR, "dist/server.js")}
health: { startTimeout: 10s }
strategy: rolling
stickiness: { header: x-user-id }
drain: { timeout: 1s, preStop: 0s }
`,
  );
  await writeFile(
    join(dir, "flags.yaml"),
    ["risky", "harmless"]
      .map(
        (name) => `- name: ${name}
  enabled: true
  strategies:
    - name: flexibleRollout
      parameters: { rollout: "0", stickiness: userId, groupId: ${name} }
`,
      )
      .join(""),
  );
  up = await startBatonUp(dir, env());
}, 60_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    await baton("down");
    await Promise.race([exitOf(up), new Promise((r) => setTimeout(r, 10_000))]);
    up.kill("SIGKILL");
  }
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("flags under baton up", () => {
  it("gives instances the flag API with no set-up, and turns a failing flag back from the CLI", async () => {
    expect((await baton("flags", "apply", "flags.yaml")).code).toBe(0);
    const deployed = await baton(
      "deploy",
      "--dir",
      ECHO_DIR,
      "--version",
      "v1",
      "--env",
      "FLAG_FAILS=risky:0.05,harmless:0",
      "--wait",
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    const token = (await readFile(join(dir, ".baton", "flags-client.token"), "utf8")).trim();
    expect(token).toMatch(/^baton-client\./);

    const load = startLoad({
      url: `http://127.0.0.1:${port}/checkout`,
      rate: 400,
      concurrency: 16,
      headers: (n) => ({ "x-user-id": `user-${n % 4000}` }),
    });
    try {
      const risky = await baton(
        "flags",
        "rollout",
        "risky",
        "--steps",
        "20,50,100",
        "--pause",
        "1s",
        "--min-requests",
        "200",
      );
      expect(risky.code, risky.stdout + risky.stderr).toBe(1);
      expect(risky.stdout).toMatch(
        /rolled-back: at 20%, with the flag on: error rate [\d.]+ > [\d.]+ \+ 0\.02 allowed/,
      );
      expect(risky.stdout).toMatch(/risky: rolled-back at 0%\n$/);

      const harmless = await baton(
        "flags",
        "rollout",
        "harmless",
        "--steps",
        "20,100",
        "--pause",
        "1s",
        "--min-requests",
        "200",
      );
      expect(harmless.code, harmless.stdout + harmless.stderr).toBe(0);
      expect(harmless.stdout).toMatch(/harmless: succeeded at 100%\n$/);
    } finally {
      await load.stop();
    }
    const history = await baton("flags", "history", "risky");
    expect(history.stdout).toMatch(
      /guarded-rollout .*\(guarded rollout #\d+: at 20%, with the flag on: error rate/,
    );
    expect((await baton("audit", "verify")).code).toBe(0);
  }, 120_000);
});
