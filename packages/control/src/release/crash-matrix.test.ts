import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import type { Status } from "../control-plane.js";
import { OWNER_ENV } from "../providers/local-instance.js";
import { processesWithEnv } from "../providers/process-alive.js";
import { parseServiceFile } from "../service-file.js";
import { ECHO_SERVER, type ReleaseFixture, releaseFixture } from "../test-support/release-fixture.js";
import { TEST_DATABASE_URL } from "../test-support/test-database.js";

const CONTROL = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/**
 * A control plane in its own process, as `baton up` runs it: it recovers what the last one left,
 * then deploys or rolls back if asked, prints its status and exits. With BATON_FAILPOINT set it
 * SIGKILLs itself at that point of that version's release.
 */
const PLANE = `
const c = await import(process.env.CONTROL);
const a = JSON.parse(process.env.ARGS);
const db = c.pgClient(a.db, { schema: a.schema });
const cp = new c.ControlPlane({ file: c.parseServiceFile(a.file), db, router: new c.RouterAdmin(a.admin), routerUrl: a.url, dataDir: a.dir });
await cp.init();
await cp.recover("plane");
await cp.settled();
if (a.deploy) await cp.wait((await cp.deploy({ ...a.deploy, cwd: a.dir, actor: "plane" })).id);
if (a.rollback) await cp.wait((await cp.rollback("plane")).id);
if (a.down) await cp.stopAll();
process.stdout.write(JSON.stringify(await cp.status()) + "\\n");
await cp.detach();
await db.close();
process.exit(0);
`;

const fileText = (strategy: string) => `
service: echo
listen: 8080
instances: 2
run: ${process.execPath} ${ECHO_SERVER}
strategy: ${strategy}
rolling: { maxSurge: 1, maxUnavailable: 0, minReady: 300ms }
blueGreen: { keepOldFor: 10m }
canary:
  steps: [ { weight: 50, pause: 1s }, { weight: 100, pause: 0s } ]
analysis: { minRequests: 30 }
stickiness: { header: x-user-id }
drain: { timeout: 500ms }
`;

/** Each point of a release where the control plane is killed: every transition and step. */
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
    "release.starting",
    "release.progressing",
    "release.step.1",
    "release.succeeded",
  ],
  "blue-green": ["instance.spawned", "release.progressing", "release.step.1", "release.succeeded"],
};

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  status?: Status;
  output: string;
}

let fx: ReleaseFixture;
let version = 1;

beforeAll(async () => {
  fx = await releaseFixture("crashes", parseServiceFile(fileText("canary")), 0);
});
afterAll(() => fx?.close());

function plane(strategy: string, args: Record<string, unknown>, failpoint?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PLANE], {
      env: {
        ...process.env,
        CONTROL,
        ...(failpoint ? { BATON_FAILPOINT: failpoint } : {}),
        ARGS: JSON.stringify({
          db: TEST_DATABASE_URL,
          schema: fx.env.schema,
          dir: fx.dir,
          file: fileText(strategy),
          admin: fx.admin.baseUrl,
          url: fx.routerUrl,
          ...args,
        }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (code, signal) => {
      const last = output.trim().split("\n").at(-1) ?? "";
      let status: Status | undefined;
      try {
        status = JSON.parse(last) as Status;
      } catch {
        /* killed before it printed */
      }
      done({ code, signal, output, ...(status ? { status } : {}) });
    });
  });
}

/** Every process started for the service that is alive now. */
const instanceProcesses = () => processesWithEnv(OWNER_ENV, `${resolve(fx.dir)}#echo`);

/** After a recovery: the release ended, every live instance process is tracked, the chain holds. */
async function expectSettled(after: Run, label: string): Promise<void> {
  expect(after.code, `${label}: ${after.output}`).toBe(0);
  const status = after.status!;
  expect(["succeeded", "rolled-back", "failed"], label).toContain(status.release?.status);
  const tracked = new Set([
    ...(status.serving?.instances ?? []).map((i) => i.pid),
    ...(status.warm?.instances ?? []).map((i) => i.pid),
  ]);
  const strays = instanceProcesses().filter((p) => !tracked.has(p.pid) && !tracked.has(p.pgid));
  expect(strays, `${label}: untracked instance processes`).toEqual([]);
  expect((await fx.audit.verify()).problems, label).toEqual([]);
  expect(await fx.store.active("echo"), label).toBeUndefined();
}

describe("a control plane SIGKILLed at every point of every strategy", () => {
  it("ends each release, leaves no untracked instance, and baton down leaves none at all", async () => {
    const load = startLoad({
      url: `${fx.routerUrl}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    const first = await plane("canary", { deploy: { version: "v1" } });
    expect(first.status?.release?.status, first.output).toBe("succeeded");

    const crashAt = async (strategy: string, point: string, deploy: Record<string, unknown>) => {
      const v = `v${++version}`;
      const label = `${strategy} ${v} killed at ${point}`;
      const killed = await plane(strategy, { deploy: { version: v, ...deploy } }, `${v}:${point}`);
      expect(killed.signal, `${label}: the point was never reached\n${killed.output}`).toBe("SIGKILL");
      await expectSettled(await plane(strategy, {}), label);
    };
    for (const strategy of ["canary", "rolling", "blue-green"])
      for (const point of POINTS[strategy]!) await crashAt(strategy, point, {});
    // A canary that fails its analysis, killed as it starts rolling back.
    await crashAt("canary", "release.rolling-back", { env: { FAIL_RATE: "0.5" } });

    // Instant rollback while blue-green keeps the previous version warm, killed at each point.
    for (const point of ["release.starting", "release.progressing"]) {
      const good = await plane("blue-green", { deploy: { version: `v${++version}` } });
      expect(good.status?.warm, good.output).not.toBeNull();
      const warm = good.status!.warm!.version;
      const killed = await plane("blue-green", { rollback: true }, `${warm}:${point}`);
      expect(killed.signal, `rollback killed at ${point}\n${killed.output}`).toBe("SIGKILL");
      const after = await plane("blue-green", {});
      await expectSettled(after, `rollback killed at ${point}`);
      expect(after.status?.serving?.version).toBe(warm);
    }

    const down = await plane("canary", { down: true });
    expect(down.code, down.output).toBe(0);
    expect(instanceProcesses()).toEqual([]);
    await load.stop();
  }, 400_000);
});
