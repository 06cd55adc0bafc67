import { type ChildProcess, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { processAlive } from "../../control/src/providers/process-alive.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { BIN, batonCli, exitOf, until } from "./test-support/baton-cli.js";
import { processesMentioning } from "./test-support/processes.js";

/**
 * Issue 10's acceptance, end to end: a real `baton up` (a child process, over real PostgreSQL),
 * flags changed with the real `baton flags` commands, and real applications: Node processes that
 * evaluate flags with @baton/flags's createFlagClient, as a service would.
 */

const FLAGS_SDK = pathToFileURL(fileURLToPath(new URL("../../flags/dist/index.js", import.meta.url))).href;

/**
 * An application: a flag client (short back-off, so a test need not wait for defaults meant for
 * production) and a tiny HTTP server answering `GET /flags?flag=a&flag=b` with each one's answer,
 * and `GET /count?flag=x&n=10000` with the users user-0..user-(n-1) it has on, plus the rollout
 * percentage it evaluated with.
 */
const APP = `
import { createServer } from "node:http";
import { createFlagClient } from ${JSON.stringify(FLAGS_SDK)};
const [url, token, appName, backupFile] = process.argv.slice(2);
const flags = createFlagClient({
  url, token, appName, ...(backupFile ? { backupFile } : {}),
  reconnectDelay: { initialMs: 100, maxMs: 400 }, refreshInterval: 300, metricsInterval: 0,
});
flags.on("error", () => {}); // the control plane away is expected here
const server = createServer((req, res) => {
  const q = new URL(req.url, "http://app").searchParams;
  let answer;
  if (req.url.startsWith("/count")) {
    const name = q.get("flag");
    const on = [];
    for (let i = 0; i < Number(q.get("n")); i++) if (flags.isEnabled(name, { userId: "user-" + i })) on.push(i);
    const strategy = flags.getFlag(name)?.strategies.find((s) => s.name === "flexibleRollout");
    answer = { rollout: strategy?.parameters?.rollout ?? null, on };
  } else {
    answer = Object.fromEntries(q.getAll("flag").map((name) => [name, flags.isEnabled(name)]));
  }
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(answer));
});
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.address().port })));
flags.ready().then(() => console.log(JSON.stringify({ ready: true })));
process.on("SIGTERM", () => flags.close().then(() => process.exit(0)));
`;

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let apiPort: number;
let env: Record<string, string>;
let up: ChildProcess | undefined;
const children = new Set<ChildProcess>();

interface App {
  child: ChildProcess;
  port: number;
  /** What the process printed. */
  said: () => string;
}

/** `baton up` on a fixed API port (the applications keep their URL across its restarts). */
function startUp(): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, "up", "--api-port", String(apiPort), "--listen-host", "127.0.0.1"],
      { cwd: dir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.add(child);
    let said = "";
    const onData = (d: Buffer) => {
      said += d.toString();
      if (said.includes('"event":"baton-up"')) resolve(child);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => reject(new Error(`baton up exited (${code ?? signal}):\n${said}`)));
  });
}

function startApp(name: string, token: string, backupFile?: string): Promise<App> {
  return new Promise((resolve, reject) => {
    const args = [join(dir, "app.mjs"), `http://127.0.0.1:${apiPort}/api`, token, name];
    const child = spawn(process.execPath, backupFile ? [...args, backupFile] : args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let said = "";
    child.stdout!.on("data", (d: Buffer) => {
      said += d.toString();
      const port = /"port":(\d+)/.exec(said)?.[1];
      if (port) resolve({ child, port: Number(port), said: () => said });
    });
    child.stderr!.on("data", (d: Buffer) => (said += d.toString()));
    child.once("exit", (code, signal) =>
      reject(new Error(`app ${name} exited (${code ?? signal}):\n${said}`)),
    );
  });
}

async function ask<T = Record<string, boolean>>(app: App, path: string): Promise<T> {
  const res = await request(`http://127.0.0.1:${app.port}${path}`, { headersTimeout: 5_000 });
  return (await res.body.json()) as T;
}

const flagsOf = (app: App) => ask(app, "/flags?flag=checkout-v2&flag=dark-mode");

async function stop(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  await exitOf(child);
  children.delete(child);
}

async function admin(method: string, path: string, body?: unknown, auth?: string) {
  const token = auth ?? `Bearer ${(await readFile(join(dir, ".baton", "api.token"), "utf8")).trim()}`;
  const res = await request(`http://127.0.0.1:${apiPort}${path}`, {
    method: method as "GET",
    headers: { authorization: token, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const baton = (...args: string[]) => batonCli(args, dir, { BATON_ACTOR: "acceptance" });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "baton-flags-acceptance-"));
  await chmod(dir, 0o755);
  schema = await testSchema("flagaccept");
  env = { DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema };
  apiPort = await freePort();
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop\nlisten: ${await freePort()}\ninstances: 1\nrun: ${process.execPath} server.js\n`,
  );
  await writeFile(join(dir, "app.mjs"), APP);
  up = await startUp();
}, 60_000);

afterAll(async () => {
  // Whatever happened, nothing is left running: applications, `baton up`, its router.
  for (const child of children) if (child !== up) await stop(child, "SIGKILL");
  if (up && up.exitCode === null && up.signalCode === null) await baton("down");
  if (up) await stop(up, "SIGKILL");
  for (const pid of processesMentioning(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone meanwhile */
    }
  }
  await schema?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("issue 10: flags, end to end", () => {
  it("a 37.5% rollout puts 37.5% ± 1 point of 10,000 users on, and raising it only adds users", async () => {
    const applied = await baton(
      "flags",
      "apply",
      await file(
        "rollout.yaml",
        `- name: new-search
  enabled: true
  strategies:
    - name: flexibleRollout
      parameters: { rollout: "0", stickiness: userId, groupId: new-search }
`,
      ),
    );
    expect(applied.code, applied.stderr).toBe(0);
    const token = (await baton("flags", "token", "create", "--name", "counter")).stdout.trim();
    const app = await startApp("counter", token);
    try {
      const rolloutTo = async (percent: string) => {
        const r = await baton("flags", "rollout", "new-search", "--percent", percent);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`flexibleRollout ${percent}%`);
        // Stored as given (not truncated), and what the SDK evaluates with once the change reached it.
        expect((await admin("GET", "/v1/flags/new-search")).body.flag.strategies[0].parameters.rollout).toBe(
          percent,
        );
        let counted: { rollout: string | null; on: number[] } = { rollout: null, on: [] };
        await until(`the application to take rollout ${percent}`, async () => {
          counted = await ask(app, "/count?flag=new-search&n=10000");
          return counted.rollout === percent;
        });
        return new Set(counted.on);
      };
      const at375 = await rolloutTo("37.5");
      expect(Math.abs(at375.size / 100 - 37.5), `${at375.size} of 10000 on`).toBeLessThanOrEqual(1);
      const at50 = await rolloutTo("50");
      expect(Math.abs(at50.size / 100 - 50), `${at50.size} of 10000 on`).toBeLessThanOrEqual(1);
      expect([...at375].filter((user) => !at50.has(user))).toEqual([]);
    } finally {
      await stop(app.child);
    }
  });

  it("buckets a fractional rollout as Unleash's SDKs do (whole percents): 37.5% turns on the users 37% does, so every SDK answers alike", async () => {
    const token = (await baton("flags", "token", "create", "--name", "fraction")).stdout.trim();
    const app = await startApp("fraction", token);
    try {
      const countAt = async (percent: string) => {
        expect((await baton("flags", "rollout", "new-search", "--percent", percent)).code).toBe(0);
        let on = 0;
        await until(`the application to take rollout ${percent}`, async () => {
          const counted = await ask<{ rollout: string; on: number[] }>(app, "/count?flag=new-search&n=10000");
          on = counted.on.length;
          return counted.rollout === percent;
        });
        return on;
      };
      // unleash-client turns a user on when its bucket (1..100) is at most the percentage: a finer
      // split here would make Baton's SDK and Unleash's disagree on the same flag.
      const at37 = await countAt("37");
      const at375 = await countAt("37.5");
      expect(at375).toBe(at37);
    } finally {
      await stop(app.child);
    }
  });

  it("refuses wrong tokens, bad files and half-applied concurrent edits with a clear error, changing nothing", async () => {
    const before = JSON.stringify((await admin("GET", "/v1/flags/export")).body);
    const clientToken = (await baton("flags", "token", "create", "--name", "refusals")).stdout.trim();
    const adminToken = (await readFile(join(dir, ".baton", "api.token"), "utf8")).trim();

    // A wrong client token, or the admin token, on the client API: 401 naming the client token.
    for (const auth of ["baton-client.not-a-real-token", `Bearer ${adminToken}`, adminToken])
      for (const path of ["/api/client/features", "/api/client/streaming"]) {
        const r = await admin("GET", path, undefined, auth);
        expect(r.status, `${path} with ${auth.slice(0, 20)}`).toBe(401);
        expect(r.body.error.code).toBe("BATON_UNAUTHORIZED");
        expect(r.body.error.message).toContain("client token (baton flags token create)");
      }
    const metrics = await admin("POST", "/api/client/metrics", { appName: "x", bucket: {} }, adminToken);
    expect(metrics.status).toBe(401);
    // A client token (read-only, for SDKs) opens no admin route, reading or writing.
    for (const [method, path, body] of [
      ["GET", "/v1/flags", undefined],
      ["PUT", "/v1/flags/sneaky", { enabled: true, strategies: [] }],
      ["POST", "/v1/flags/new-search/enable", {}],
      ["POST", "/v1/flags/apply", { flags: [] }],
      ["POST", "/v1/flags/tokens", { name: "more" }],
    ] as const) {
      const r = await admin(method, path, body, `Bearer ${clientToken}`);
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.body.error.code).toBe("BATON_UNAUTHORIZED");
    }
    // The CLI with a client token where the admin token goes: it says so, exit code 2.
    const wrongCli = await batonCli(["flags", "enable", "new-search"], dir, { BATON_API_TOKEN: clientToken });
    expect(wrongCli.code).toBe(2);
    expect(wrongCli.stderr).toContain("[BATON_UNAUTHORIZED]");

    // Files: a name given twice, and a FIFO (reading it would wait forever).
    const twice = await file(
      "twice.yaml",
      "- {name: dup, enabled: true, strategies: []}\n- {name: dup, enabled: false, strategies: []}\n",
    );
    const dup = await baton("flags", "apply", twice);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toContain(
      `[BATON_BAD_REQUEST] ${twice}: flags[1] (flag dup): name: dup is given twice`,
    );
    const fifo = join(dir, "flags.fifo");
    await new Promise<void>((resolve, reject) =>
      spawn("mkfifo", [fifo]).once("exit", (code) => (code === 0 ? resolve() : reject(new Error("mkfifo")))),
    );
    const piped = await baton("flags", "apply", fifo);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain(`${fifo}: not a regular file`);
    expect(JSON.stringify((await admin("GET", "/v1/flags/export")).body)).toBe(before);

    // Two conflicting files applied at the same moment: each all or nothing, so the flags end as one
    // of them left them, never half of each.
    const names = Array.from({ length: 20 }, (_, i) => `pair-${i}`);
    const listOf = (enabled: boolean) =>
      names.map((name) => `- {name: ${name}, enabled: ${enabled}, strategies: [{name: default}]}`).join("\n");
    const [on, off] = [await file("on.yaml", listOf(true)), await file("off.yaml", listOf(false))];
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([baton("flags", "apply", on), baton("flags", "apply", off)]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const flags = (await admin("GET", "/v1/flags")).body as { name: string; flag: { enabled: boolean } }[];
      const states = new Set(flags.filter((f) => names.includes(f.name)).map((f) => f.flag.enabled));
      expect(states.size, `round ${round}: a mix of both files`).toBe(1);
    }
  });

  it("the control plane SIGKILLed: SDKs keep answering; a change made when it is back arrives; an application restarted meanwhile starts from its backup file", async () => {
    const applied = await baton(
      "flags",
      "apply",
      await file(
        "app-flags.yaml",
        `- {name: checkout-v2, enabled: true, strategies: [{name: default}]}
- {name: dark-mode, enabled: false, strategies: [{name: default}]}
`,
      ),
    );
    expect(applied.code, applied.stderr).toBe(0);
    const token = (await baton("flags", "token", "create", "--name", "shop-apps")).stdout.trim();
    const backupB = join(dir, "b-flags.json");
    const a = await startApp("app-a", token, join(dir, "a-flags.json"));
    let b = await startApp("app-b", token, backupB);
    const both = async (expected: Record<string, boolean>) => {
      for (const app of [a, b]) expect(await flagsOf(app), app.said()).toEqual(expected);
    };
    const bothSee = (what: string, expected: Record<string, boolean>, ms = 10_000) =>
      until(
        what,
        async () =>
          JSON.stringify([await flagsOf(a), await flagsOf(b)]) === JSON.stringify([expected, expected]),
        ms,
      );
    await bothSee("both applications to take the flags", { "checkout-v2": true, "dark-mode": false });
    // A change while everything is up reaches both, and B's backup file.
    expect((await baton("flags", "enable", "dark-mode")).code).toBe(0);
    await bothSee(
      "both applications to take dark-mode on",
      { "checkout-v2": true, "dark-mode": true },
      5_000,
    );
    await until("B's backup file to hold dark-mode on", async () => {
      const backup = JSON.parse(await readFile(backupB, "utf8")) as {
        features: { name: string; enabled: boolean }[];
      };
      return backup.features.find((f) => f.name === "dark-mode")?.enabled === true;
    });

    // The control plane dies without a word.
    const routerPid = (
      JSON.parse(await readFile(join(dir, ".baton", "router.json"), "utf8")) as { pid: number }
    ).pid;
    up!.kill("SIGKILL");
    expect(await exitOf(up!)).toEqual({ code: null, signal: "SIGKILL" });
    children.delete(up!);
    await expect(admin("GET", "/v1/flags")).rejects.toThrow();
    // Both keep answering with the last state, while their streams fail and back off.
    for (let i = 0; i < 5; i++) {
      await both({ "checkout-v2": true, "dark-mode": true });
      await new Promise((r) => setTimeout(r, 200));
    }

    // B dies too, and comes back while the control plane is still away: it answers from its backup
    // file at once (not "off" for everything, as a client with no state would).
    await stop(b.child, "SIGKILL");
    b = await startApp("app-b", token, backupB);
    expect(await flagsOf(b), b.said()).toEqual({ "checkout-v2": true, "dark-mode": true });
    await until("B to be ready from its backup", async () => b.said().includes('"ready":true'), 2_000);

    // The control plane is back; a change made at once, while the SDKs are still backing off.
    up = await startUp();
    const changedAt = performance.now();
    const disabled = await admin("POST", "/v1/flags/checkout-v2/disable", { actor: "acceptance" });
    expect(disabled.status).toBe(200);
    await bothSee("both applications to take checkout-v2 off", { "checkout-v2": false, "dark-mode": true });
    expect(performance.now() - changedAt).toBeLessThan(8_000);

    // Shut down: applications, then `baton down`; nothing of it is left running.
    await stop(a.child);
    await stop(b.child);
    const down = await baton("down");
    expect(down.code, down.stdout + down.stderr).toBe(0);
    await exitOf(up);
    children.delete(up);
    await until(
      "every process of the data dir to end",
      async () => processesMentioning(dir).length === 0,
      15_000,
    );
    expect(processAlive(routerPid)).toBe(false);
  });
});
