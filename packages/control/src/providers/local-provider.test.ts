import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./free-port.js";
import { ProcessState } from "./instance-process-state.js";
import type { LocalInstance } from "./local-instance.js";
import { InstancesNotReadyError, LocalProvider, type VersionSpec } from "./local-provider.js";
import { groupAlive, processAlive, processStartTime } from "./process-alive.js";

const ECHO = fileURLToPath(new URL("../../../../examples/echo-service/dist/server.js", import.meta.url));
let dir: string;
let provider: LocalProvider;
const started: LocalInstance[] = [];

const spec = (over: Partial<VersionSpec> = {}): VersionSpec => ({
  service: "echo",
  version: "v1",
  run: `${JSON.stringify(process.execPath)} ${JSON.stringify(ECHO)}`,
  cwd: dir,
  count: 3,
  readinessPath: "/health/ready",
  startTimeout: 10_000,
  ...over,
});

/** Whether any process of the instance's group still runs (a zombie awaiting its reaper does not). */
const alive = (pid: number) => processAlive(pid) || groupAlive(pid);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-local-"));
  provider = new LocalProvider(dir);
});
afterAll(async () => {
  await Promise.all(started.map((i) => i.stop(1000)));
  await rm(dir, { recursive: true, force: true });
});

describe("local instances", () => {
  it("fails a crash-looping version early, with its exit codes and last output, not at the start timeout", async () => {
    const crash = join(dir, "crash.js");
    await writeFile(crash, "console.error('boom: DATABASE_URL is not set'); process.exit(3);\n");
    const t0 = Date.now();
    const err = await provider
      .startVersion(
        spec({
          version: "v-crash",
          run: `${JSON.stringify(process.execPath)} ${crash}`,
          count: 1,
          startTimeout: 60_000,
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(InstancesNotReadyError);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(err!.message).toMatch(
      /crash loop: exited 3 times before becoming ready \(exit code 3, exit code 3, exit code 3\)/,
    );
    expect(err!.message).toMatch(/boom: DATABASE_URL is not set/);
    expect(err!.message).toMatch(/baton logs --version v-crash/);
  }, 30_000);

  it("fails the version as soon as one instance crash-loops, without waiting out the others' start timeout", async () => {
    // A server that ignores PORT: the first instance holds its fixed port (and never answers on
    // PORT), the second crash-loops on EADDRINUSE. Seen with json-server started without --port.
    const fixed = await freePort();
    const stubborn = join(dir, "stubborn.js");
    await writeFile(stubborn, `require("node:http").createServer((q, s) => s.end()).listen(${fixed});\n`);
    const t0 = Date.now();
    const err = await provider
      .startVersion(
        spec({
          version: "v-stubborn",
          run: `${JSON.stringify(process.execPath)} ${stubborn}`,
          count: 2,
          startTimeout: 60_000,
        }),
      )
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(InstancesNotReadyError);
    expect(err!.message).toMatch(/crash loop/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 30_000);

  it("starts N ready instances on distinct ports with PORT and BATON_VERSION set", async () => {
    const instances = await provider.startVersion(spec({ version: "v7" }));
    started.push(...instances);
    expect(new Set(instances.map((i) => i.spec.port)).size).toBe(3);
    for (const i of instances) {
      expect(i.state).toBe(ProcessState.Ready);
      const body = (await (await fetch(`http://${i.address}/`)).json()) as { version: string };
      expect(body.version).toBe("v7");
    }
  });

  it("gives back nothing when a version never becomes ready, and leaves no process behind", async () => {
    const err = await provider
      .startVersion(spec({ version: "v-broken", count: 2, startTimeout: 1500, env: { NEVER_READY: "1" } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstancesNotReadyError);
    expect((err as Error).message).toMatch(/v-broken did not become ready/);
    expect((err as InstancesNotReadyError).reasons[0]).toMatch(
      /not ready after 1.5s: HTTP 503 from \/health\/ready/,
    );
    const pids = (err as InstancesNotReadyError).pids;
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  });

  it("restarts a crashed instance on the same port with back-off", async () => {
    const [inst] = await provider.startVersion(spec({ count: 1 }));
    started.push(inst!);
    const firstPid = inst!.pid;
    process.kill(firstPid, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    expect(inst!.state).toBe(ProcessState.Restarting);
    await inst!.waitReady(10_000);
    expect(inst!.pid).not.toBe(firstPid);
    expect(inst!.restarts).toBe(1);
    expect((await fetch(`http://${inst!.address}/health/ready`)).status).toBe(200);
  });

  it("stops with SIGTERM, and SIGKILL after the grace period for a process that ignores it", async () => {
    const stubborn = join(dir, "stubborn.mjs");
    await writeFile(
      stubborn,
      `import { createServer } from "node:http";
       process.on("SIGTERM", () => {});
       createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");`,
    );
    const [inst] = await provider.startVersion(
      spec({ count: 1, run: `${JSON.stringify(process.execPath)} ${stubborn}`, readinessPath: "/" }),
    );
    const t = Date.now();
    await inst!.stop(800);
    expect(Date.now() - t).toBeGreaterThanOrEqual(750);
    expect(alive(inst!.pid)).toBe(false);
    expect(inst!.state).toBe(ProcessState.Stopped);
  });

  it("keeps instances running when the control plane that started them is killed, and adopts them", async () => {
    // A separate process plays the control plane: it starts two instances, prints their records, and is SIGKILLed.
    const script = join(dir, "plane.mjs");
    const providerUrl = new URL("./local-provider.ts", import.meta.url).href;
    await writeFile(
      script,
      `const { LocalProvider } = await import(${JSON.stringify(providerUrl.replace("/src/", "/dist/").replace(/\.ts$/, ".js"))});
       const p = new LocalProvider(${JSON.stringify(dir)});
       const list = await p.startVersion(${JSON.stringify(spec({ count: 2, version: "v9" }))});
       console.log(JSON.stringify(list.map((i) => i.record)));
       setInterval(() => {}, 1000);`,
    );
    const plane = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    const records = await new Promise<{ pid: number; port: number; version: string }[]>((resolve) => {
      plane.stdout!.on("data", (d) => resolve(JSON.parse(String(d))));
    });
    plane.kill("SIGKILL");
    await new Promise((r) => plane.once("exit", r));
    for (const r of records) expect(alive(r.pid)).toBe(true);
    const adopted = provider.adopt(spec({ count: 2, version: "v9" }), records);
    started.push(...adopted);
    expect(adopted).toHaveLength(2);
    await Promise.all(adopted.map((i) => i.waitReady(5000)));
    for (const i of adopted) expect((await fetch(`http://${i.address}/health/ready`)).status).toBe(200);
  });

  it("never adopts or signals a pid that is now another process (its start time differs)", async () => {
    const other = spawn("sleep", ["30"], { stdio: "ignore" });
    let adopted: LocalInstance[] = [];
    try {
      const pid = other.pid!;
      const startedAt = processStartTime(pid)!;
      expect(startedAt).toBeGreaterThan(0);
      // A record from before a reboot whose pid the kernel has since given to `sleep`.
      const stale = { pid, port: 1, version: "v-old", startedAt: startedAt - 1 };
      expect(provider.adopt(spec({ count: 1, version: "v-old" }), [stale])).toEqual([]);
      await new Promise((r) => setTimeout(r, 300));
      expect(processAlive(pid)).toBe(true);
      // The same pid with its real start time is the process that was started: adopted.
      adopted = provider.adopt(spec({ count: 1, version: "v-same" }), [
        { ...stale, version: "v-same", startedAt },
      ]);
      expect(adopted.map((i) => i.pid)).toEqual([pid]);
    } finally {
      for (const i of adopted) await i.stop(500); // stops watching (and restarting) it
      other.kill("SIGKILL");
    }
  });

  it("never adopts, signals or sweeps another data directory's instances, even from a shared database", async () => {
    const mine = await provider.startVersion(spec({ service: "mine", count: 1, version: "v-mine" }));
    started.push(...mine);
    const otherDir = await mkdtemp(join(tmpdir(), "baton-local-other-"));
    try {
      const other = new LocalProvider(otherDir);
      // The other directory finds this one's records (one state database for both): not its own.
      expect(
        other.adopt(
          spec({ service: "mine", count: 1, version: "v-mine" }),
          mine.map((i) => i.record),
        ),
      ).toEqual([]);
      expect(await other.sweep("mine", { spareOwned: false, graceMs: 500 })).toEqual([]);
      expect(alive(mine[0]!.pid)).toBe(true);
      // Its own sweep, with nothing owned, is what finds it.
      const fresh = new LocalProvider(dir);
      expect(
        await fresh.sweep("mine", {
          spareOwned: false,
          graceMs: 500,
          sparePorts: new Set([mine[0]!.spec.port]),
        }),
      ).toEqual([]);
      expect(await fresh.sweep("mine", { spareOwned: false, graceMs: 500 })).toEqual([mine[0]!.pid]);
      expect(alive(mine[0]!.pid)).toBe(false);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });
});
