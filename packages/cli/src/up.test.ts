import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { processAlive } from "../../control/src/providers/process-alive.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { startLoad } from "../../router/src/test-support/load.js";
import { batonCli, until } from "./test-support/baton-cli.js";
import { occupy, processesMentioning } from "./test-support/processes.js";

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

function baton(args: string[], env: Record<string, string> = {}, cwd = dir): Promise<Run> {
  return batonCli(args, cwd, env);
}

/** Starts `baton up` in the service directory; resolves once it announced its API. */
function startUp(
  cwd = dir,
  dbSchema = schema.schema,
  onLine?: (text: string) => void,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "up", "--api-port", "0", "--listen-host", "127.0.0.1"], {
      cwd,
      env: { ...process.env, DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: dbSchema },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let said = "";
    const onData = (d: Buffer) => {
      said += d.toString();
      onLine?.(d.toString());
      if (process.env.BATON_TEST_VERBOSE) process.stdout.write(d);
      if (said.includes('"event":"baton-up"')) resolve(child);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`baton up exited with ${code}:\n${said}`)));
  });
}

async function status(cwd = dir): Promise<{
  serving: { version: string; instances: { pid: number }[] } | null;
  warm: { version: string } | null;
  release: { id: number; version: string; status: string; strategy: string };
  router?: {
    pid: number;
    state: string;
    restarts: number;
    lastRestart: { reason: string; previousPid: number; pid: number; downMs: number } | null;
  };
}> {
  // Straight to the API (what `baton status --json` prints), to poll without a process per look.
  const { url } = JSON.parse(await readFile(join(cwd, ".baton", "api.json"), "utf8")) as { url: string };
  const token = (await readFile(join(cwd, ".baton", "api.token"), "utf8")).trim();
  const res = await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
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
blueGreen: { keepOldFor: 5m, postSwitchAnalysis: 2s }
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

  it("refuses a port already in use before starting anything: exit 2, the port, its holder and the option", async () => {
    // The API port: without DATABASE_URL, so that an embedded PostgreSQL would have started too.
    const apiPort = await freePort();
    const holder = await occupy(apiPort);
    const state = join(dir, "clash-state");
    try {
      const r = await baton(["up", "--data-dir", state, "--api-port", String(apiPort)], { DATABASE_URL: "" });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toContain("[BATON_PORT_IN_USE]");
      expect(r.stderr).toContain(`the control plane's API: port ${apiPort} on 127.0.0.1 is already in use`);
      expect(r.stderr).toContain(`by pid ${process.pid} (`);
      expect(r.stderr).toContain("--api-port");
      expect(r.stderr).not.toMatch(/EADDRINUSE/);
    } finally {
      holder.close();
    }
    expect(existsSync(join(state, "router.json"))).toBe(false);
    expect(existsSync(join(state, "pg"))).toBe(false);
    expect(existsSync(join(state, "up.lock"))).toBe(false);
    expect(processesMentioning(state)).toEqual([]);

    // The router's public port (baton.yaml's `listen`).
    const publicPort = await freePort();
    const taken = await occupy(publicPort);
    await writeFile(join(dir, "clash.yaml"), `service: clash\nlisten: ${publicPort}\nrun: node x.js\n`);
    try {
      const r = await baton(
        ["up", "-f", "clash.yaml", "--data-dir", state, "--api-port", "0", "--listen-host", "127.0.0.1"],
        { DATABASE_URL: "" },
      );
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr).toContain(
        `the router's public port: port ${publicPort} on 127.0.0.1 is already in use`,
      );
      expect(r.stderr).toContain(`change \`listen\` in ${join(dir, "clash.yaml")}`);
    } finally {
      taken.close();
    }
    expect(existsSync(join(state, "router.json"))).toBe(false);
    expect(existsSync(join(state, "pg"))).toBe(false);
    expect(processesMentioning(state)).toEqual([]);
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
      // Cause before effect: the failed analysis is printed before the rollback it led to.
      const failedAt = bad.stdout.search(/analysis fail: /);
      expect(failedAt, bad.stdout).toBeGreaterThan(0);
      expect(failedAt, bad.stdout).toBeLessThan(bad.stdout.search(/\d\d {2}(rolling-back|rolled-back)\n/));
      expect((await status()).serving?.version).toBe("v2");
      failedByV3 = load.result.failed;
      expect(failedByV3).toBeGreaterThan(0);

      // A directory that is not there: a clear error, nothing changed.
      const before = (await baton(["history", "--json"])).stdout;
      const missing = await baton(["deploy", "--version", "v9", "--dir", join(dir, "gone")]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`--dir ${join(dir, "gone")}: no such directory`);
      expect((await baton(["history", "--json"])).stdout).toEqual(before);

      // A version never released, deployed from its own directory without --dir: that directory.
      const bg = await baton(
        [
          "deploy",
          "--version",
          "v4",
          "--strategy",
          "blue-green",
          "--wait",
          "--data-dir",
          join(dir, ".baton"),
        ],
        {},
        ECHO_DIR,
      );
      expect(bg.code, bg.stdout + bg.stderr).toBe(0);
      expect(bg.stdout).toContain(`v4 was never released: deploying this directory (${resolve(ECHO_DIR)})`);
      expect((await status()).warm?.version).toBe("v2");

      // Rollback while v2 is warm: one switch.
      const started = Date.now();
      const back = await baton(["rollback", "--wait"]);
      expect(back.code, back.stdout + back.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(8_000);
      expect((await status()).serving?.version).toBe("v2");
      expect((await baton(["history", "--limit", "1"])).stdout).toMatch(/: rollback of v4 → v2 \(/);
      expect(load.result.byVersion.v4).toBeGreaterThan(0);

      // The control plane SIGKILLed mid-canary: router and instances keep serving; the next
      // `baton up` takes the release over and finishes it.
      // baton.yaml is read again at every deploy: this edit applies to v6 without a restart.
      const yaml = join(dir, "baton.yaml");
      const text = await readFile(yaml, "utf8");
      // A baton.yaml that would block the read (a FIFO) is refused at once and holds nothing.
      await rm(yaml);
      execFileSync("mkfifo", [yaml]);
      const blocked = await baton(["deploy", "--version", "v6", "--dir", ECHO_DIR]);
      expect(blocked.code).toBe(2);
      expect(blocked.stderr).toMatch(
        /\[BATON_BAD_SERVICE_FILE\] cannot read the service file .*: it is not a regular file/,
      );
      await rm(yaml);
      await writeFile(yaml, text.replace("weight: 20,", "weight: 30,"));
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
      // The settings it ran with, compactly, durations as durations.
      expect((await baton(["status"])).stdout).toMatch(
        /\n {2}settings: canary 30% 6s → 100%; 2 instances; analysis ≥100 requests/,
      );
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
    // By default only the instances that run (v6's, and the previous version's if kept warm); the
    // stopped ones (v3, rolled back) with --all.
    const live = await baton(["logs", "--lines", "1"]);
    expect(live.stdout).toMatch(/^== v6 0-\d+\.log ==$/m);
    expect(live.stdout).not.toMatch(/^== v3 /m);
    expect(live.stdout).not.toContain("(stopped)");
    expect(live.stdout).toMatch(/\(\d+ logs of stopped instances not shown; --all shows them\)/);
    const all = await baton(["logs", "--all", "--lines", "1"]);
    expect(all.stdout).toMatch(/^== v3 0-\d+\.log \(stopped\) ==$/m);
    // A changed event is named by its number, with what is wrong, and the command exits 1.
    const table = `${schema.schema}.baton_audit`;
    const { rows } = await schema.db.query<{ actor: string }>(`SELECT actor FROM ${table} WHERE seq = 2`);
    await schema.db.query(`UPDATE ${table} SET actor = 'mallory' WHERE seq = 2`);
    const broken = await baton(["audit", "verify"]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/event 2: changed: its content no longer matches its hash/);
    await schema.db.query(`UPDATE ${table} SET actor = $1 WHERE seq = 2`, [rows[0]!.actor]);
    expect((await baton(["audit", "verify"])).code).toBe(0);

    // `baton down` stops the instances, the router and the control plane.
    const pids = (await status()).serving!.instances.map((i) => i.pid);
    expect((await baton(["down"])).code).toBe(0);
    await exited(up!);
    await until("instances to stop", async () => pids.every((p) => !processAlive(p)));
  }, 180_000);

  it("supervises its router: SIGKILLed, it is back within seconds, in baton status and the audit log", async () => {
    const sup = join(dir, "sup");
    const supSchema = await testSchema("upsup");
    const supPort = await freePort();
    let child: ChildProcess | undefined;
    let said = "";
    try {
      await mkdir(sup);
      await writeFile(
        join(sup, "baton.yaml"),
        `service: sup\nlisten: ${supPort}\ninstances: 2\nrun: ${process.execPath} dist/server.js\n` +
          "health: { startTimeout: 10s }\nstrategy: rolling\ndrain: { timeout: 2s, preStop: 0s }\n",
      );
      child = await startUp(sup, supSchema.schema, (t) => {
        said += t;
      });
      const first = await baton(["deploy", "--version", "v1", "--dir", ECHO_DIR, "--wait"], {}, sup);
      expect(first.code, first.stdout + first.stderr).toBe(0);
      const routerConfig = join(sup, ".baton", "router.yaml");
      const before = JSON.parse(await readFile(join(sup, ".baton", "router.json"), "utf8")) as {
        pid: number;
      };
      expect(processesMentioning(routerConfig)).toEqual([before.pid]);
      expect((await status(sup)).router).toMatchObject({ pid: before.pid, state: "running", restarts: 0 });

      const served = async () => {
        try {
          const res = await fetch(`http://127.0.0.1:${supPort}/`, { signal: AbortSignal.timeout(1000) });
          await res.arrayBuffer();
          return res.status === 200 ? res.headers.get("x-baton-version") : null;
        } catch {
          return null;
        }
      };
      expect(await served()).toBe("v1");

      const killedAt = Date.now();
      process.kill(before.pid, "SIGKILL");
      // Served again, by v1: the new router resumed its routing table.
      await until(
        "requests through the router to succeed again",
        async () => (await served()) === "v1",
        10_000,
      );
      const back = Date.now() - killedAt;
      expect(back).toBeLessThan(5_000);

      // The supervisor counts the restart once the new router answered its check: a moment later.
      await until(
        "status to count the restart",
        async () => (await status(sup)).router?.restarts === 1,
        5_000,
      );
      const s = await status(sup);
      expect(s.router?.restarts).toBe(1);
      expect(s.router?.state).toBe("running");
      expect(s.router?.lastRestart).toMatchObject({ previousPid: before.pid, pid: s.router!.pid });
      expect(s.router?.lastRestart?.reason).toMatch(/killed by SIGKILL/);
      expect(s.router!.pid).not.toBe(before.pid);
      // Never two routers.
      expect(processesMentioning(routerConfig)).toEqual([s.router!.pid]);
      expect(said).toMatch(/router restarted \(pid \d+, was \d+\)/);

      const cli = await baton(["status"], {}, sup);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(
        new RegExp(
          `router: pid ${s.router!.pid} .*restarted 1 time \\(last .*pid ${before.pid} was killed by SIGKILL`,
        ),
      );
      const { rows } = await supSchema.db.query<{
        details: { pid: number; previousPid: number; exit: unknown };
      }>("SELECT details FROM baton_audit WHERE action = 'router.restarted'");
      expect(rows).toHaveLength(1);
      expect(rows[0]!.details).toMatchObject({
        pid: s.router!.pid,
        previousPid: before.pid,
        exit: { code: null, signal: "SIGKILL" },
      });
      const audit = await baton(["audit", "verify"], {}, sup);
      expect(audit.code, audit.stdout).toBe(0);
      expect(audit.stdout).toMatch(/events, chain verified/);

      // `baton down` stops the router for good: the supervisor does not bring it back.
      expect((await baton(["down"], {}, sup)).code).toBe(0);
      await exited(child);
      await until("the router to stop", async () => processesMentioning(routerConfig).length === 0);
      await new Promise((r) => setTimeout(r, 1500));
      expect(processesMentioning(routerConfig)).toEqual([]);
    } finally {
      if (child && child.exitCode === null) {
        await baton(["down"], {}, sup);
        child.kill("SIGKILL");
      }
      await supSchema.drop();
    }
  }, 120_000);
});
