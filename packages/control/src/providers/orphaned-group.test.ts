import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./free-port.js";
import type { LocalInstance } from "./local-instance.js";
import { LocalProvider, type VersionSpec } from "./local-provider.js";
import { groupAlive, processAlive, processStartTime } from "./process-alive.js";

// `run: npm start` keeps a parent over the app (npm, then `sh -c`): the group leader is not the
// process holding the port. `<app>; true` is the same shape with a shell as the leader.
const ECHO = fileURLToPath(new URL("../../../../examples/echo-service/dist/server.js", import.meta.url));
const RUN = `${JSON.stringify(process.execPath)} ${JSON.stringify(ECHO)}; true`;
let dir: string;
const started: LocalInstance[] = [];

const spec = (over: Partial<VersionSpec> = {}): VersionSpec => ({
  service: "orphans",
  version: "v1",
  run: RUN,
  cwd: dir,
  count: 1,
  readinessPath: "/health/ready",
  startTimeout: 10_000,
  ...over,
});

/** The pid of the process that answers on `address` (the app, under its leader). */
async function appPid(address: string): Promise<number> {
  const res = await fetch(`http://${address}/`);
  return ((await res.json()) as { pid: number }).pid;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-orphans-"));
});
afterAll(async () => {
  await Promise.all(started.map((i) => i.stop(1000)));
  await rm(dir, { recursive: true, force: true });
});

describe("an instance whose group leader dies while the app runs on", () => {
  it("kills what is left of the group before restarting, so the restart gets the port", async () => {
    const provider = new LocalProvider(dir);
    const [inst] = await provider.startVersion(spec());
    started.push(inst!);
    const leader = inst!.pid;
    const app = await appPid(inst!.address);
    expect(app).not.toBe(leader);
    process.kill(leader, "SIGKILL");
    await until(() => !processAlive(app), 3000, "the orphaned app to be stopped");
    await inst!.waitReady(10_000);
    expect(inst!.restarts).toBe(1);
    expect(inst!.pid).not.toBe(leader);
    const again = await appPid(inst!.address);
    expect(again).not.toBe(app);
    expect(groupAlive(leader)).toBe(false);
  }, 20_000);

  it("an adopted instance (another control plane's) whose leader died is restarted, not shown ready", async () => {
    const port = await freePort();
    // Started by an earlier control plane: detached, in its own process group.
    const sh = spawn(RUN, {
      shell: true,
      detached: true,
      stdio: "ignore",
      env: { ...process.env, PORT: String(port), BATON_VERSION: "v1" },
    });
    sh.unref();
    const leader = sh.pid!;
    const address = `127.0.0.1:${port}`;
    let app = 0;
    const deadline = Date.now() + 5000;
    while (!app && Date.now() < deadline) app = await appPid(address).catch(() => 0);
    expect(app).toBeGreaterThan(0);
    const record = { pid: leader, port, version: "v1", startedAt: processStartTime(leader) };
    const [inst] = new LocalProvider(dir).adopt(spec(), [record], { restart: true });
    started.push(inst!);
    await inst!.waitReady(5000);
    expect(inst!.pid).toBe(leader);

    process.kill(leader, "SIGKILL");
    await until(() => !processAlive(app), 3000, "the orphaned app to be stopped");
    await until(() => inst!.pid !== leader, 3000, "a restart");
    await inst!.waitReady(10_000);
    expect(await appPid(address)).not.toBe(app);
    expect(processAlive(inst!.pid)).toBe(true);
  }, 20_000);
});
