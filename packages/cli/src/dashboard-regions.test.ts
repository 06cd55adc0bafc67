import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { processAlive } from "../../control/src/providers/process-alive.js";
import { pgClient } from "../../control/src/state/sql-client.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { type LoadResult, startLoad } from "../../router/src/test-support/load.js";
import { apiGet, apiPost, batonCli, exitOf, until } from "./test-support/baton-cli.js";
import {
  assertAccessible,
  launchChromium,
  requireChromium,
  startBatonUp,
} from "./test-support/dashboard-browser.js";
import { processesWithFilesUnder } from "./test-support/open-files.js";
import { processesMentioning } from "./test-support/processes.js";
import { type RegionRouter, startRegionRouter } from "./test-support/region-router.js";

const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));
/** Every wait is bounded: a slow machine fails with what it waited for. */
const WAIT = 20_000;
const ROUTER_TOKEN = "region-router-token-0123456789";
const REGIONS = ["eu", "us"] as const;
type Region = (typeof REGIONS)[number];

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let up: ChildProcess | undefined;
let browser: Browser | undefined;
const ports = {} as Record<Region, { port: number; adminPort: number }>;
const routers = {} as Record<Region, RegionRouter>;
/** Every router process this test started (a restarted one too). */
const routerPids = new Set<number>();
/** Every instance pid `GET /v1/status` ever named. */
const instancePids = new Set<number>();

beforeAll(async () => {
  requireChromium();
  dir = await mkdtemp(join(tmpdir(), "baton-dashboard-regions-"));
  await chmod(dir, 0o755);
  schema = await testSchema("dashboard_regions_e2e");
  for (const r of REGIONS) ports[r] = { port: await freePort(), adminPort: await freePort() };
  // eu bakes long enough to be seen between the regions; us, last, bakes by time only.
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${await freePort()}
instances: 1
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
strategy: canary
canary:
  steps: [ { weight: 50, pause: 2s }, { weight: 100 } ]
analysis: { minRequests: 30, maxErrorRateIncrease: 0.1, confidence: 0.9 }
drain: { timeout: 1s, preStop: 0s }
regions:
  - { name: eu, router: "http://127.0.0.1:${ports.eu.adminPort}", url: "http://127.0.0.1:${ports.eu.port}", bake: 3s }
  - { name: us, router: "http://127.0.0.1:${ports.us.adminPort}", url: "http://127.0.0.1:${ports.us.port}", bake: 1s }
`,
  );
});

afterAll(async () => {
  await browser?.close();
  if (up && up.exitCode === null && up.signalCode === null) {
    await apiPost(dir, "/v1/down", {}).catch(() => {});
    await Promise.race([exitOf(up), new Promise((r) => setTimeout(r, 10_000))]);
    up.kill("SIGKILL");
  }
  for (const r of Object.values(routers)) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  // After a failure: no instance of this test outlives it (each by its pid, known to be ours by
  // the log file it holds open under the data directory).
  if (dir) for (const pid of processesWithFilesUnder(dir)) process.kill(pid, "SIGKILL");
  await schema?.drop().catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startRouter(region: Region): Promise<RegionRouter> {
  const r = await startRegionRouter({ dir, name: region, ...ports[region], token: ROUTER_TOKEN });
  routers[region] = r;
  routerPids.add(r.child.pid!);
  return r;
}

interface RegionStatus {
  region: string;
  service: string;
  serving: { version: string; instances: { pid: number }[] } | null;
  warm: { version: string; instances?: { pid: number }[] } | null;
  release: { id: number; version: string; status: string } | null;
}
interface WavesStatus {
  service: string;
  release: { id: number; version: string; status: string; reason: string | null; strategy: string } | null;
  regions: RegionStatus[];
}

/** `GET /v1/status`, with every instance pid it names remembered (to check for orphans at the end). */
async function status(): Promise<WavesStatus> {
  const s = await apiGet<WavesStatus>(dir, "/v1/status");
  for (const r of s.regions)
    for (const i of [...(r.serving?.instances ?? []), ...(r.warm?.instances ?? [])]) instancePids.add(i.pid);
  return s;
}
const serving = (s: WavesStatus) =>
  s.regions.map((r) => `${r.region}=${r.serving?.version ?? "-"}`).join(" ");

/**
 * Deploys `version` (POST /v1/deploy, or `baton deploy --wait` with `cli`) and polls the status
 * until the wave ends; returns every serving state seen, and what `baton deploy` said.
 */
async function wave(version: string, env: Record<string, string> = {}, cli = false, ms = 40_000) {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const deployed = cli
    ? batonCli(
        [
          "deploy",
          "--version",
          version,
          "--dir",
          ECHO_DIR,
          ...(envArgs.length ? ["--env", ...envArgs] : []),
          "--wait",
        ],
        dir,
      )
    : undefined;
  if (!cli)
    expect(await apiPost(dir, "/v1/deploy", { version, dir: ECHO_DIR, env })).toMatchObject({ status: 202 });
  const seen: string[] = [];
  let last: WavesStatus | undefined;
  await until(
    `the wave of ${version} to end`,
    async () => {
      last = await status();
      const now = serving(last);
      if (seen.at(-1) !== now) seen.push(now);
      return (
        last.release?.version === version &&
        !["progressing", "starting", "rolling-back"].includes(last.release.status)
      );
    },
    ms,
  );
  return { seen, end: last!, cli: await deployed };
}

function loadOn(region: Region, rate: number) {
  // A worker per 10 req/s: the higher rate is not held back by a slow machine's latency first.
  return startLoad({ url: `${routers[region].url}/`, rate, concurrency: Math.max(4, Math.round(rate / 10)) });
}

/** "v2: 12.3 req/s, 0.0% errors, p95 4.1 ms" for `version` in a measured cell: its req/s. */
const MEASURED = (version: string) =>
  new RegExp(`(?:^|; )${version}: (\\d+\\.\\d) req/s, (\\d+\\.\\d)% errors, p95 (\\d+(?:\\.\\d)? ms|–)`);

/** `baton up`; resolves with the one-time login link it printed. */
async function startUp(): Promise<string> {
  const started = startBatonUp({
    dir,
    onSpawn: (child) => {
      up = child;
    },
    args: ["--api-port", "0", "--listen-host", "127.0.0.1"],
    env: {
      DATABASE_URL: TEST_DATABASE_URL,
      BATON_DB_SCHEMA: schema.schema,
      BATON_ROUTER_TOKEN: ROUTER_TOKEN,
    },
    waitMs: WAIT,
  });
  return (await started).link;
}

describe("release waves over two region routers under baton up, in the dashboard", () => {
  it("moves region by region with each router's numbers, rolls a bad version back, and says when a router is gone", async () => {
    const started = Date.now();
    const phases: string[] = [];
    const mark = (what: string) => phases.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}s`);
    await Promise.all(REGIONS.map(startRouter));
    mark("routers");
    const link = await startUp();
    mark("up");

    // v1 everywhere (nothing to compare with: it goes straight in, region by region).
    const v1 = await wave("v1");
    expect(v1.end.release).toMatchObject({ status: "succeeded", strategy: "waves" });
    expect(serving(v1.end)).toBe("eu=v1 us=v1");

    mark("v1");
    browser = await launchChromium();
    // bypassCSP only so that axe-core can be injected; the page itself runs under its CSP.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(link);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    const regionsTable = page.getByTestId("regions");
    const row = (r: Region) => regionsTable.locator(`tr[data-region=${r}]`);
    const measuredCell = (r: Region) => row(r).getByTestId("region-measured");

    // Light load on both regions' public ports, eu twice us: each row's numbers are its own router's.
    let loads: Record<Region, ReturnType<typeof loadOn>> = { eu: loadOn("eu", 80), us: loadOn("us", 40) };
    for (const r of REGIONS)
      await measuredCell(r)
        .filter({ hasText: MEASURED("v1") })
        .waitFor();
    const rate = async (r: Region, version: string) =>
      Number(MEASURED(version).exec((await measuredCell(r).textContent()) ?? "")?.[1] ?? Number.NaN);
    await until(
      "eu's numbers (twice the load) to settle above us's",
      async () => (await rate("eu", "v1")) > (await rate("us", "v1")) * 1.3,
      10_000,
    );
    expect(await measuredCell("eu").textContent()).toMatch(/(^|; )v1: \d+\.\d req\/s, 0\.0% errors, p95 /);
    await assertAccessible(page, "overview with regions");

    mark("browser");
    // v2: the wave moves region by region (eu on v2 while us still serves v1), seen by the API and the page.
    const v2Running = wave("v2");
    await row("eu").getByRole("cell", { name: "v2", exact: true }).waitFor(); // eu's Serving cell
    expect(await row("us").locator("td").first().textContent()).toBe("v1"); // us still on v1
    await measuredCell("eu")
      .filter({ hasText: MEASURED("v2") })
      .waitFor();
    const v2 = await v2Running;
    expect(v2.end.release, v2.end.release?.reason ?? "").toMatchObject({ status: "succeeded" });
    expect(v2.seen).toContain("eu=v2 us=v1");
    expect(v2.seen.indexOf("eu=v2 us=v1")).toBeLessThan(v2.seen.indexOf("eu=v2 us=v2"));
    expect(v2.seen).not.toContain("eu=v1 us=v2");
    expect(serving(v2.end)).toBe("eu=v2 us=v2");
    // eu baked against us (v2 in eu against v1 still serving us), recorded on the wave.
    const v2Detail = await apiGet<{ decisions: { reason: string }[] }>(
      dir,
      `/v1/releases/${v2.end.release!.id}`,
    );
    expect(v2Detail.decisions.map((d) => d.reason)).toContainEqual(
      expect.stringMatching(/^bake in eu against us: /),
    );
    for (const r of REGIONS) {
      await row(r).getByRole("cell", { name: "v2", exact: true }).first().waitFor();
      await measuredCell(r)
        .filter({ hasText: /(^|; )v2: \d+\.\d req\/s, 0\.0% errors, p95 / })
        .waitFor();
    }
    const quiet: Record<Region, LoadResult> = { eu: await loads.eu.stop(), us: await loads.us.stop() };
    for (const r of REGIONS) {
      expect(quiet[r].failed, `${r}: ${JSON.stringify(quiet[r].failures)}`).toBe(0);
      expect(quiet[r].byVersion.v2, `${r} served v2`).toBeGreaterThan(0);
    }

    mark("v2");
    // A bad v3 (30% of its requests fail) is stopped in eu; the Releases page says why by itself.
    loads = { eu: loadOn("eu", 80), us: loadOn("us", 40) };
    await page.getByRole("link", { name: "Releases" }).click();
    await page.getByRole("heading", { name: "Releases", level: 1 }).waitFor();
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    const v3 = await wave("v3", { FAIL_RATE: "0.3" }, true);
    expect(v3.end.release?.status).toBe("rolled-back");
    expect(v3.cli?.code, v3.cli?.stderr).toBe(1); // `baton deploy --wait`: rolled back
    expect(v3.cli?.stdout).toMatch(/region eu: rolled-back: error rate 0\.\d+ > /);
    expect(v3.end.release?.reason).toMatch(/^region eu: rolled-back: error rate 0\.\d+ > /);
    expect(v3.seen.some((s) => s.includes("us=v3"))).toBe(false);
    expect(serving(v3.end)).toBe("eu=v2 us=v2");
    const summary = page.locator("#detail-title ~ [data-testid=release-summary]");
    await summary.filter({ hasText: "rolled back" }).filter({ hasText: "v3" }).waitFor();
    await expect(summary.getByTestId("release-reason").textContent()).resolves.toMatch(
      /region eu: rolled-back: error rate 0\.\d+ > /,
    );
    await regionsTable.locator("tr[data-region=eu]", { hasText: "v3: rolled back" }).waitFor();
    expect(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await assertAccessible(page, "releases page after a rolled-back wave");
    const bad: Record<Region, LoadResult> = { eu: await loads.eu.stop(), us: await loads.us.stop() };
    expect(bad.us.failed, JSON.stringify(bad.us.failures)).toBe(0); // us never took v3
    expect(bad.us.byVersion.v3 ?? 0).toBe(0);

    mark("v3");
    // us's router killed: its row says so in words, eu's numbers keep coming, baton up stays.
    loads = { eu: loadOn("eu", 80), us: loadOn("us", 40) };
    await page.getByRole("link", { name: "Overview" }).click();
    await measuredCell("us")
      .filter({ hasText: MEASURED("v2") })
      .waitFor();
    routers.us.child.kill("SIGKILL");
    await exitOf(routers.us.child);
    await measuredCell("us")
      .filter({ hasText: /^its router did not answer: .+/ })
      .waitFor();
    const euBefore = await measuredCell("eu").textContent();
    await measuredCell("eu")
      .filter({ hasText: MEASURED("v2") })
      .filter({ hasNotText: euBefore ?? "" })
      .waitFor(); // a newer reading than before
    expect(serving(await status())).toBe("eu=v2 us=v2");
    expect(up!.exitCode).toBeNull();
    expect(errors).toEqual([]);
    await assertAccessible(page, "overview with a region's router down");

    mark("kill");
    // Restarted on its file: it resumes its table, and its numbers come back.
    await startRouter("us");
    await measuredCell("us")
      .filter({ hasText: MEASURED("v2") })
      .waitFor();
    await Promise.all([loads.eu.stop(), loads.us.stop()]);

    mark("restart");
    // baton down: every instance stops, and baton up exits; then the routers this test started.
    const holding = processesWithFilesUnder(dir); // what the scan after down must find gone
    for (const r of (await status()).regions)
      for (const i of r.serving!.instances) expect(holding).toContain(i.pid);
    expect(await apiPost(dir, "/v1/down", {})).toMatchObject({ status: 202 });
    await Promise.race([
      exitOf(up!),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error("baton up did not exit after down")), 15_000),
      ),
    ]);
    for (const r of Object.values(routers)) {
      r.child.kill("SIGTERM");
      await Promise.race([exitOf(r.child), new Promise((r) => setTimeout(r, 5_000))]);
    }
    expect(instancePids.size).toBeGreaterThanOrEqual(4);
    await until(
      "every instance to be gone",
      async () => [...instancePids].every((p) => !processAlive(p)),
      5_000,
    );
    expect([...routerPids, up!.pid!].filter(processAlive)).toEqual([]);
    expect(processesMentioning(dir)).toEqual([]);
    expect(processesWithFilesUnder(dir)).toEqual([]); // the canaries of v2 and v3 too
    await browser.close();
    browser = undefined;
    await schema.drop();
    const check = pgClient(TEST_DATABASE_URL, { max: 1 });
    const left = await check.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [
      schema.schema,
    ]);
    await check.close();
    expect(left.rows).toEqual([]);
    schema = undefined as never;
    await rm(dir, { recursive: true, force: true });
    expect(existsSync(dir)).toBe(false);
    console.log(`release waves e2e: ${((Date.now() - started) / 1000).toFixed(1)} s (${phases.join(", ")})`);
  }, 90_000);
});
