import { spawn } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRouter, type Router, silentLogger } from "@baton/router";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLoad } from "../../../router/src/test-support/load.js";
import { AuditLog } from "../audit/audit-log.js";
import { OWNER_ENV } from "../providers/local-instance.js";
import { processesWithEnv } from "../providers/process-alive.js";
import type { RegionalStatus } from "../regional-control-plane.js";
import { ReleaseStore } from "../state/release-store.js";
import { ECHO_SERVER } from "../test-support/release-fixture.js";
import { TEST_DATABASE_URL, testSchema } from "../test-support/test-database.js";

const CONTROL = fileURLToPath(new URL("../../dist/index.js", import.meta.url));

/**
 * Release waves: a control plane of two regions in its own process (as `baton up` runs one when
 * baton.yaml lists regions) recovers what the last one left, deploys if asked, prints its status
 * and exits; with BATON_FAILPOINT it SIGKILLs itself at that point. (The strategies and instant
 * rollback are crash-tested through `baton up` itself: packages/cli/src/up-crash.test.ts.)
 */
const PLANE = `
const c = await import(process.env.CONTROL);
const a = JSON.parse(process.env.ARGS);
const db = c.pgClient(a.db, { schema: a.schema });
const file = c.parseServiceFile(a.file);
const waves = new c.RegionalControlPlane({ file, db, dataDir: a.dir,
  regions: file.regions.map((r) => ({ name: r.name, router: new c.RouterAdmin(r.router), routerUrl: r.url, bake: r.bake })) });
await waves.init();
await waves.recover("plane");
await waves.settled();
if (a.deploy) await waves.wait((await waves.deploy({ ...a.deploy, cwd: a.dir, actor: "plane" })).id);
if (a.down) await waves.stopAll();
process.stdout.write(JSON.stringify(await waves.status()) + "\\n");
await waves.detach();
await db.close();
process.exit(0);
`;

let env: Awaited<ReturnType<typeof testSchema>>;
let dir: string;
const routers: Router[] = [];
let fileText: string;
let version = 1;

beforeAll(async () => {
  env = await testSchema("wavecrash");
  dir = await mkdtemp(join(tmpdir(), "baton-wavecrash-"));
  await chmod(dir, 0o755);
  for (let i = 0; i < 2; i++)
    routers.push(
      await createRouter(
        { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" } },
        { logger: silentLogger },
      ),
    );
  const [a, b] = routers.map((r) => ({
    admin: `http://127.0.0.1:${r.adminAddress!.port}`,
    url: `http://127.0.0.1:${r.address.port}`,
  }));
  fileText = `
service: pay
listen: 8080
instances: 1
run: ${process.execPath} ${ECHO_SERVER}
canary:
  steps: [ { weight: 50, pause: 1s }, { weight: 100, pause: 0s } ]
analysis: { minRequests: 30 }
stickiness: { header: x-user-id }
drain: { timeout: 500ms }
regions:
  - { name: a, router: "${a!.admin}", url: "${a!.url}", bake: 1s }
  - { name: b, router: "${b!.admin}", url: "${b!.url}", bake: 1s }
`;
});

afterAll(async () => {
  for (const r of routers) await r.close();
  await env?.drop();
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  status?: RegionalStatus;
  output: string;
}

function plane(args: Record<string, unknown>, failpoint?: string): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", PLANE], {
      env: {
        ...process.env,
        CONTROL,
        ...(failpoint ? { BATON_FAILPOINT: failpoint } : {}),
        ARGS: JSON.stringify({ db: TEST_DATABASE_URL, schema: env.schema, dir, file: fileText, ...args }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("exit", (code, signal) => {
      let status: RegionalStatus | undefined;
      try {
        status = JSON.parse(output.trim().split("\n").at(-1) ?? "") as RegionalStatus;
      } catch {
        /* killed before it printed */
      }
      done({ code, signal, output, ...(status ? { status } : {}) });
    });
  });
}

const instanceProcesses = () =>
  ["a", "b"].flatMap((r) => processesWithEnv(OWNER_ENV, `${resolve(dir)}#pay.${r}`));

describe("a wave's control plane SIGKILLed at its points", () => {
  it("ends the wave and each region's release, leaves no untracked instance, and stopAll leaves none", async () => {
    const loads = routers.map((r) =>
      startLoad({
        url: `http://127.0.0.1:${r.address.port}/`,
        rate: 120,
        concurrency: 6,
        headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
      }),
    );
    const first = await plane({ deploy: { version: "v1" } });
    expect(first.status?.release?.status, first.output).toBe("succeeded");
    const store = new ReleaseStore(env.db);
    // The wave row, then in region a: spawning, its canary step, its success; then region b's step.
    for (const point of ["release.starting", "instance.spawned", "release.step.1", "release.succeeded"]) {
      const v = `v${++version}`;
      const label = `wave ${v} killed at ${point}`;
      const killed = await plane({ deploy: { version: v } }, `${v}:${point}`);
      expect(killed.signal, `${label}: the point was never reached\n${killed.output}`).toBe("SIGKILL");
      const after = await plane({});
      expect(after.code, `${label}: ${after.output}`).toBe(0);
      for (const service of ["pay", "pay.a", "pay.b"])
        expect(await store.active(service), `${label}: ${service} still in flight`).toBeUndefined();
      const tracked = new Set(
        after
          .status!.regions.flatMap((r) => [...(r.serving?.instances ?? []), ...(r.warm?.instances ?? [])])
          .map((i) => i.pid),
      );
      const strays = instanceProcesses().filter((p) => !tracked.has(p.pid) && !tracked.has(p.pgid));
      expect(strays, `${label}: untracked instance processes`).toEqual([]);
      expect((await new AuditLog(env.db).verify()).problems, label).toEqual([]);
    }
    const down = await plane({ down: true });
    expect(down.code, down.output).toBe(0);
    expect(instanceProcesses()).toEqual([]);
    for (const l of loads) await l.stop();
  }, 300_000);
});
