import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { processAlive } from "../../control/src/providers/process-alive.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { startLoad } from "../../router/src/test-support/load.js";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let port: number;
let up: ChildProcess | undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function baton(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: dir, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** Starts `baton up` in the service directory; resolves once it announced its API. */
function startUp(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "up", "--api-port", "0", "--listen-host", "127.0.0.1"], {
      cwd: dir,
      env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let said = "";
    const onData = (d: Buffer) => {
      said += d.toString();
      if (process.env.BATON_TEST_VERBOSE) process.stdout.write(d);
      if (said.includes('"event":"baton-up"')) resolve(child);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`baton up exited with ${code}:\n${said}`)));
  });
}

async function status(): Promise<{
  serving: { version: string; instances: { pid: number }[] } | null;
  warm: { version: string } | null;
  release: { id: number; version: string; status: string; strategy: string };
}> {
  // Straight to the API (what `baton status --json` prints), to poll without a process per look.
  const { url } = JSON.parse(await readFile(join(dir, ".baton", "api.json"), "utf8")) as { url: string };
  const token = (await readFile(join(dir, ".baton", "api.token"), "utf8")).trim();
  const res = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-up-"));
  await chmod(dir, 0o755);
  schema = await testSchema("up");
  port = await freePort();
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${port}
instances: 2
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
strategy: canary
canary:
  steps: [ { weight: 20, pause: 6s }, { weight: 100 } ]
analysis: { minRequests: 100 }
blueGreen: { keepOldFor: 5m }
stickiness: { header: x-user-id }
drain: { timeout: 2s, preStop: 0s }
`,
  );
});

afterAll(async () => {
  if (up && up.exitCode === null) await baton(["down"]);
  await new Promise((r) => setTimeout(r, 500));
  up?.kill("SIGKILL");
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
});

describe("baton up and the release commands", () => {
  it("refuses a bad baton.yaml and a database that is down, starting nothing", async () => {
    await writeFile(join(dir, "bad.yaml"), "service: shop\nlisten: 80\nrun: x\nstrategy: sideways\n");
    const bad = await baton(["up", "-f", "bad.yaml", "--data-dir", join(dir, "bad-state")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:4:\d+: strategy: Invalid option/);

    const down = await baton(["up", "--data-dir", join(dir, "down-state"), "--api-port", "0"], {
      DATABASE_URL: "postgres://postgres:s3cret@127.0.0.1:1/baton",
    });
    expect(down.code).toBe(2);
    expect(down.stderr).toMatch(
      /cannot reach the state database at postgres:\/\/postgres:\*+@127\.0\.0\.1:1\/baton/,
    );
    expect(down.stderr).not.toContain("s3cret");
    // Nothing was started: no router, no API file.
    expect(existsSync(join(dir, "down-state", "router.json"))).toBe(false);
    expect(existsSync(join(dir, "down-state", "api.json"))).toBe(false);

    const noPlane = await baton(["status", "--data-dir", join(dir, "nowhere")]);
    expect(noPlane.code).toBe(2);
    expect(noPlane.stderr).toMatch(/no control plane found.*Run `baton up`/);
  });

  it("deploys, rolls a bad version back, rolls back, survives SIGKILL mid-canary, and verifies its audit log", async () => {
    up = await startUp();
    const first = await baton(["deploy", "--version", "v1", "--dir", ECHO_DIR, "--wait"]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain("release 1: v1 (initial) succeeded");

    let failedByV3 = 0;
    const load = startLoad({
      url: `http://127.0.0.1:${port}/`,
      rate: 300,
      concurrency: 12,
      headers: (n) => ({ "x-user-id": `u${n % 3000}` }),
    });
    try {
      // A good canary: exit 0, and the analysis it passed on is printed.
      const good = await baton(["deploy", "--version", "v2", "--dir", ECHO_DIR, "--wait"]);
      expect(good.code, good.stdout + good.stderr).toBe(0);
      expect(good.stdout).toMatch(/analysis pass: error rate/);
      expect(load.result.failed).toBe(0);

      // A bad one: rolled back by the analysis; exit 1 so that CI can gate on it.
      const bad = await baton([
        "deploy",
        "--version",
        "v3",
        "--dir",
        ECHO_DIR,
        "--env",
        "FAIL_RATE=0.3",
        "--wait",
      ]);
      expect(bad.code, bad.stdout + bad.stderr).toBe(1);
      expect(bad.stdout).toMatch(/v3 \(canary from v2\) rolled-back: error rate 0\.\d+ > /);
      expect((await status()).serving?.version).toBe("v2");
      failedByV3 = load.result.failed;
      expect(failedByV3).toBeGreaterThan(0);

      // An unknown version: a clear error, nothing changed.
      const before = (await baton(["history", "--json"])).stdout;
      const unknown = await baton(["deploy", "--version", "v9"]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("[BATON_UNKNOWN_VERSION] unknown version v9 of shop");
      expect((await baton(["history", "--json"])).stdout).toEqual(before);

      const bg = await baton([
        "deploy",
        "--version",
        "v4",
        "--dir",
        ECHO_DIR,
        "--strategy",
        "blue-green",
        "--wait",
      ]);
      expect(bg.code, bg.stdout + bg.stderr).toBe(0);
      expect((await status()).warm?.version).toBe("v2");

      // Rollback while v2 is warm: one switch.
      const started = Date.now();
      const back = await baton(["rollback", "--wait"]);
      expect(back.code, back.stdout + back.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect((await status()).serving?.version).toBe("v2");
      expect(load.result.byVersion.v4).toBeGreaterThan(0);

      // The control plane SIGKILLed mid-canary: router and instances keep serving; the next
      // `baton up` takes the release over and finishes it.
      const canary = await baton(["deploy", "--version", "v6", "--dir", ECHO_DIR]);
      expect(canary.code, canary.stderr).toBe(0);
      // A second deploy meanwhile is refused and changes nothing.
      const beforeSecond = (await baton(["history", "--json"])).stdout;
      const second = await baton(["deploy", "--version", "v7", "--dir", ECHO_DIR]);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain("[BATON_RELEASE_IN_PROGRESS]");
      expect(
        JSON.parse((await baton(["history", "--json"])).stdout).map((r: { id: number }) => r.id),
      ).toEqual(JSON.parse(beforeSecond).map((r: { id: number }) => r.id));
      await until("v6 at its canary step", async () => {
        const s = await status();
        return s.release.version === "v6" && s.release.status === "progressing";
      });
      await new Promise((r) => setTimeout(r, 1000));
      up.kill("SIGKILL");
      await exited(up!);
      await new Promise((r) => setTimeout(r, 1000));
      up = await startUp();
      await until("v6 to finish", async () => (await status()).release.status !== "progressing", 40_000);
      const cli = await baton(["status", "--json"]);
      const s = JSON.parse(cli.stdout) as Awaited<ReturnType<typeof status>>;
      expect(s.release).toMatchObject({ version: "v6", status: "succeeded" });
      expect(s.serving?.version).toBe("v6");
    } finally {
      await load.stop();
    }
    // Only v3, the bad version, ever failed a request, and fewer than 1% of all.
    expect(load.result.failed - failedByV3, JSON.stringify(load.result.failures)).toBe(0);
    expect(failedByV3 / load.result.sent).toBeLessThan(0.01);

    const audit = await baton(["audit", "verify"]);
    expect(audit.code, audit.stdout).toBe(0);
    expect(audit.stdout).toMatch(/events, chain verified/);
    const logs = await baton(["logs", "--version", "v6", "--lines", "5"]);
    expect(logs.stdout).toMatch(/== v6 0-\d+\.log ==\n.*"event":"listening"/);

    // `baton down` stops the instances, the router and the control plane.
    const pids = (await status()).serving!.instances.map((i) => i.pid);
    expect((await baton(["down"])).code).toBe(0);
    await exited(up!);
    await until("instances to stop", async () => pids.every((p) => !processAlive(p)));
  }, 180_000);
});
