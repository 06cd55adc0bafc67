import { readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { OWNER_ENV } from "../../control/src/providers/local-instance.js";
import { processesWithEnv } from "../../control/src/providers/process-alive.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { startLoad } from "../../router/src/test-support/load.js";
import {
  apiGet,
  apiPost,
  apiStatus,
  batonCli,
  exitOf,
  startBatonUp,
  until,
} from "./test-support/baton-cli.js";

const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));
const IN_FLIGHT = ["starting", "progressing", "rolling-back"];

/** Every point of a release at which `baton up` is killed: each transition and each step. */
const POINTS: Record<string, string[]> = {
  canary: [
    "instance.spawned",
    "release.starting",
    "release.progressing",
    "release.step.1",
    "release.succeeded",
  ],
  rolling: [
    "instance.spawned",
    "release.progressing",
    "release.step.1",
    "release.step.2",
    "release.succeeded",
  ],
  "blue-green": ["instance.spawned", "release.progressing", "release.step.1", "release.succeeded"],
};

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let port: number;
let env: Record<string, string>;
let version = 1;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-up-crash-"));
  await chmod(dir, 0o755);
  schema = await testSchema("upcrash");
  port = await freePort();
  env = { DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema };
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${port}
instances: 2
run: ${process.execPath} ${join(ECHO_DIR, "dist/server.js")}
health: { startTimeout: 10s }
strategy: canary
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: 300ms, judgeFor: 2s }
canary:
  steps: [ { weight: 50, pause: 1s }, { weight: 100, pause: 0s } ]
analysis: { minRequests: 30 }
blueGreen: { keepOldFor: 10m, postSwitchAnalysis: 2s }
stickiness: { header: x-user-id }
drain: { timeout: 500ms, preStop: 0s }
`,
  );
});

afterAll(async () => {
  await batonCli(["down"], dir).catch(() => {});
  // After a failure `baton up` may be gone, and `baton down` with it: nothing is left running.
  const kill = (pid: number) => {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone already */
    }
  };
  for (const p of instanceProcesses()) kill(p.pid);
  for (const e of readdirSync("/proc").filter((x) => /^\d+$/.test(x) && Number(x) !== process.pid)) {
    const cmd = (() => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, "utf8");
      } catch {
        return "";
      }
    })();
    if (cmd.includes(dir)) kill(Number(e));
  }
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** The processes started for the service that are alive now. */
const instanceProcesses = () => processesWithEnv(OWNER_ENV, `${resolve(dir, ".baton")}#shop`);

/** A running `baton up`; `failpoint`: the BATON_FAILPOINT it was started with. */
type Up = Awaited<ReturnType<typeof startBatonUp>> & { failpoint?: string };

/**
 * `baton up` restarted after a kill: the release ends, nothing runs untracked, the chain holds.
 * With `keep`, that `baton up` stays running for what comes next, armed with `keep.failpoint` if
 * given: the next crash then kills it, so that each point costs one start of `baton up`, not two.
 * Without, it is stopped with SIGTERM.
 */
async function expectRecovered(
  label: string,
  alsoAwait?: Promise<unknown>,
  keep?: { failpoint?: string },
): Promise<Up | undefined> {
  const up = await startBatonUp(dir, keep?.failpoint ? { ...env, BATON_FAILPOINT: keep.failpoint } : env);
  let kept = false;
  try {
    await until(
      `${label}: the release to end`,
      async () => !IN_FLIGHT.includes((await apiStatus(dir)).release?.status ?? ""),
      60_000,
    );
    const s = await apiStatus(dir);
    const tracked = new Set(
      [...(s.serving?.instances ?? []), ...(s.warm?.instances ?? [])].map((i) => i.pid),
    );
    const strays = instanceProcesses().filter((p) => !tracked.has(p.pid) && !tracked.has(p.pgid));
    expect(strays, `${label}: instance processes baton does not track (${up.said()})`).toEqual([]);
    // What `baton audit verify` asks (its CLI is tested in up.test.ts), without a process per look.
    const verify = await apiGet<{ rows: number; problems: unknown[] }>(dir, "/v1/audit/verify");
    expect(verify.problems, `${label}: audit chain`).toEqual([]);
    expect(verify.rows).toBeGreaterThan(0);
    await alsoAwait; // a command following the release ends while this control plane answers
    kept = keep !== undefined;
    return kept ? Object.assign(up, { failpoint: keep?.failpoint }) : undefined;
  } finally {
    if (!kept) {
      up.kill("SIGTERM"); // leaves router and instances serving, as an operator's restart would
      await exitOf(up);
    }
  }
}

/** A deploy or rollback: asked through the API (`baton deploy`), or with `follow` through the CLI. */
interface Command {
  path: "/v1/deploy" | "/v1/rollback";
  body: Record<string, unknown>;
  cli: string[];
}

/**
 * Runs `command` under a `baton up` that SIGKILLs itself at `point` of `v`, then recovers (see
 * `expectRecovered` for `keep`). `running`: the `baton up` left by the last recovery; `before` runs
 * against it; it is the one killed if armed with this point, else it is stopped with SIGTERM and
 * one so armed is started. With `follow`, the command is `--wait`: it must wait for the restarted
 * control plane and end with the release's own exit code, never 2 for the control plane that went
 * away.
 */
async function crashAt(
  label: string,
  failpoint: string,
  command: Command,
  opts: { follow?: boolean; running?: Up; keep?: { failpoint?: string }; before?: () => Promise<void> } = {},
): Promise<Up | undefined> {
  let up = opts.running;
  if (up?.failpoint !== undefined) expect(up.failpoint, label).toBe(failpoint);
  await opts.before?.();
  if (up?.failpoint !== failpoint) {
    if (up) {
      up.kill("SIGTERM");
      await exitOf(up);
    }
    up = await startBatonUp(dir, { ...env, BATON_FAILPOINT: failpoint });
  }
  const ended = exitOf(up!);
  const following = opts.follow ? batonCli([...command.cli, "--wait"], dir) : undefined;
  // Killed while it answers (at release.starting), the request fails with the connection. (The
  // CLI's own deploy and rollback, and their --wait through a restart, are tested in up.test.ts
  // and with `follow` here.)
  const asked = following
    ? undefined
    : await apiPost(dir, command.path, { actor: "crash-test", ...command.body });
  if (asked && "status" in asked) expect(asked.status, `${label}: ${asked.text}`).toBe(202);
  const how = await Promise.race([ended, new Promise((r) => setTimeout(() => r("still running"), 60_000))]);
  expect(how, `${label}: the point was never reached\n${JSON.stringify(asked)}\n${up!.said()}`).toEqual({
    code: null,
    signal: "SIGKILL",
  });
  const next = await expectRecovered(label, following, opts.keep);
  if (following) {
    const r = await following;
    expect(r.code, `${label}: deploy --wait\n${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/the control plane does not answer; waiting/);
  }
  return next;
}

describe("baton up SIGKILLed at every point of every strategy", () => {
  it("ends each release, leaves no untracked instance, and baton down leaves none at all", async () => {
    const load = startLoad({
      url: `http://127.0.0.1:${port}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    const deploy = (v: string, strategy: string, ...more: string[]) => [
      "deploy",
      "--version",
      v,
      "--dir",
      ECHO_DIR,
      "--strategy",
      strategy,
      ...more,
    ];
    const request = (v: string, strategy: string, env: Record<string, string> = {}): Command => ({
      path: "/v1/deploy",
      body: { version: v, dir: resolve(ECHO_DIR), strategy, env },
      cli: deploy(v, strategy, ...Object.entries(env).flatMap(([k, x]) => ["--env", `${k}=${x}`])),
    });
    const crashes: {
      label: string;
      failpoint: string;
      command: Command;
      follow?: boolean;
      before?: () => Promise<void>;
    }[] = [];
    for (const strategy of ["canary", "rolling", "blue-green"])
      for (const point of POINTS[strategy]!) {
        const v = `v${++version}`;
        crashes.push({
          label: `${strategy} ${v} killed at ${point}`,
          failpoint: `${v}:${point}`,
          command: request(v, strategy),
          follow: strategy === "canary" && point === "release.step.1",
        });
      }
    const lastGood = `v${version}`; // every release above ends succeeded once recovered
    const bad = `v${++version}`;
    crashes.push({
      label: `a failing canary killed as it rolls back`,
      failpoint: `${bad}:release.rolling-back`,
      command: request(bad, "canary", { FAIL_RATE: "0.5" }),
    });
    // Instant rollback while blue-green keeps the previous version (lastGood) warm, killed at each
    // point: the rollback's release is of the warm version.
    for (const point of ["release.starting", "release.progressing"])
      crashes.push({
        label: `instant rollback killed at ${point}`,
        failpoint: `${lastGood}:${point}`,
        command: { path: "/v1/rollback", body: {}, cli: ["rollback"] },
        before: async () => {
          expect((await apiStatus(dir)).serving?.version).toBe(lastGood);
          const good = await batonCli([...deploy(`v${++version}`, "blue-green"), "--wait"], dir);
          expect(good.code, good.stdout + good.stderr).toBe(0);
          expect((await apiStatus(dir)).warm?.version).toBe(lastGood);
        },
      });

    const first = await startBatonUp(dir, env);
    const v1 = await batonCli(["deploy", "--version", "v1", "--dir", ECHO_DIR, "--wait"], dir);
    expect(v1.code, v1.stdout + v1.stderr).toBe(0);
    first.kill("SIGTERM"); // leaves router and instances serving, as an operator's restart would
    await exitOf(first);

    // Each recovering `baton up` is started armed with the next point, and is killed there, unless
    // its own recovery could reach that point (the same version: the two instant rollbacks); the
    // last one stays for `baton down`.
    const versionOf = (failpoint: string) => failpoint.split(":")[0];
    let running: Up | undefined;
    for (const [k, c] of crashes.entries()) {
      const next = crashes[k + 1];
      running = await crashAt(c.label, c.failpoint, c.command, {
        ...(c.follow ? { follow: true } : {}),
        ...(running ? { running } : {}),
        ...(c.before ? { before: c.before } : {}),
        keep:
          next && versionOf(next.failpoint) !== versionOf(c.failpoint) ? { failpoint: next.failpoint } : {},
      });
    }

    const r = await load.stop();
    expect(r.sent).toBeGreaterThan(0);
    const up = running ?? (await startBatonUp(dir, env));
    const down = await batonCli(["down"], dir);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    await exitOf(up);
    expect(instanceProcesses()).toEqual([]);
  }, 600_000);
});
