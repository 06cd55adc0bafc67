import { type ChildProcess, execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { exitOf, until } from "./test-support/baton-cli.js";

/*
 * How users get Baton: the packages as npm packs them, installed into a project of their own.
 * This catches what a workspace hides: a file missing from a package's `files`, a dependency
 * used but not declared, a bin that is not linked, the embedded PostgreSQL's binaries not found
 * from another node_modules layout.
 */

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PACKAGES = ["@baton/router", "@baton/control", "@baton/migrate", "@baton/flags", "@baton/cli"];

let work: string;
let project: string;
let up: ChildProcess | undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** npm's own variables (set when the suite runs under `npm test`) would steer the inner npm. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_/i.test(k) && k !== "DATABASE_URL" && !k.startsWith("BATON_")) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, timeout = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

const baton = (...args: string[]) => run(join(project, "node_modules", ".bin", "baton"), args, project);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "baton-packed-"));
  await chmod(work, 0o755); // as root, the embedded PostgreSQL runs as `postgres` below it
  project = join(work, "tiny");
  const packs = join(work, "packs");
  await mkdir(packs);
  const packed = await run(
    "npm",
    ["pack", "--pack-destination", packs, ...PACKAGES.flatMap((p) => ["--workspace", p])],
    ROOT,
  );
  expect(packed.code, packed.stderr).toBe(0);
  const tarballs = (await readdir(packs)).filter((f) => f.endsWith(".tgz")).map((f) => join(packs, f));
  expect(tarballs).toHaveLength(PACKAGES.length);

  // A user's service: a package.json with a start script, a server reading PORT.
  await mkdir(project);
  await writeFile(
    join(project, "package.json"),
    `${JSON.stringify({ name: "tiny", private: true, scripts: { start: "node server.js" } }, null, 2)}\n`,
  );
  await writeFile(
    join(project, "server.js"),
    `require("node:http")
  .createServer((req, res) => res.end(req.url === "/health/ready" ? "ready" : \`hello from \${process.env.BATON_VERSION}\`))
  .listen(Number(process.env.PORT), "127.0.0.1");
`,
  );
  const installed = await run(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", ...tarballs],
    project,
    120_000,
  );
  expect(installed.code, installed.stderr).toBe(0);
}, 150_000);

afterAll(async () => {
  if (up && up.exitCode === null) {
    await baton("down");
    up.kill("SIGKILL");
  }
  await rm(work, { recursive: true, force: true });
});

describe("Baton installed from npm pack tarballs into an empty project", () => {
  it("runs: npx baton --help, init, up with the embedded PostgreSQL, deploy, status, down", async () => {
    // `npx baton --help`, with --no so that npx never fetches some other package named baton.
    const help = await run("npx", ["--no", "--", "baton", "--help"], project);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain("Usage: baton");

    const port = await freePort();
    const init = await baton("init", "--listen", String(port));
    expect(init.code, init.stderr).toBe(0);
    const yaml = await readFile(join(project, "baton.yaml"), "utf8");
    expect(yaml).toContain("run: npm start");
    expect(yaml).toContain("readiness: /health/ready");

    up = spawn(
      join(project, "node_modules", ".bin", "baton"),
      ["up", "--api-port", "0", "--listen-host", "127.0.0.1"],
      { cwd: project, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] },
    );
    let said = "";
    up.stdout!.on("data", (d: Buffer) => (said += d.toString()));
    up.stderr!.on("data", (d: Buffer) => (said += d.toString()));
    await until(
      "baton up to announce its API",
      async () => said.includes('"event":"baton-up"'),
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}:\n${said}`);
    });
    expect(said).toContain("state: embedded PostgreSQL under");

    const deploy = await baton("deploy", "--version", "v1", "--wait");
    expect(deploy.code, deploy.stdout + deploy.stderr).toBe(0);
    expect(deploy.stdout).toContain("v1 was never released: deploying this directory");
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("hello from v1");

    const status = await baton("status");
    expect(status.stdout).toMatch(/tiny: serving v1 on 2 instances/);

    const down = await baton("down");
    expect(down.code, down.stderr).toBe(0);
    expect((await exitOf(up)).code).toBe(0);
  }, 120_000);
});
