import type { ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { apiGet, apiPost, exitOf, until } from "./test-support/baton-cli.js";
import {
  assertAccessible,
  launchChromium,
  requireChromium,
  SCREENSHOTS,
  startBatonUp,
} from "./test-support/dashboard-browser.js";

const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));
/** Every wait in the browser is bounded: a slow machine fails with what it waited for. */
const WAIT = 10_000;

let dir: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let up: ChildProcess | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  requireChromium();
  dir = await mkdtemp(join(tmpdir(), "baton-dashboard-flags-"));
  await chmod(dir, 0o755);
  schema = await testSchema("dashboard_flags_e2e");
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${await freePort()}
instances: 1
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
drain: { timeout: 1s, preStop: 0s }
`,
  );
});

afterAll(async () => {
  await browser?.close();
  if (up && up.exitCode === null) {
    await apiPost(dir, "/v1/down", {}).catch(() => {});
    await Promise.race([exitOf(up), new Promise((r) => setTimeout(r, 10_000))]);
    up.kill("SIGKILL");
  }
  await schema?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** `baton up`; resolves with the one-time login link it printed. */
async function startUp(): Promise<string> {
  const started = startBatonUp({
    dir,
    onSpawn: (child) => {
      up = child;
    },
    args: ["--api-port", "0", "--listen-host", "127.0.0.1"], // 7070 may be taken: the API file says where
    env: { DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema },
  });
  return (await started).link;
}

describe("the dashboard's flag editor in a real browser", () => {
  it("edits strategies, makes and uses a segment, applies a file after its diff, and stops baton up", async () => {
    const started = Date.now();
    const link = await startUp();
    expect(await apiPost(dir, "/v1/deploy", { version: "v1", dir: ECHO_DIR })).toMatchObject({ status: 202 });
    const { url } = JSON.parse(await readFile(join(dir, ".baton", "api.json"), "utf8"));
    const token = (await readFile(join(dir, ".baton", "api.token"), "utf8")).trim();
    const admin = (method: string, path: string, body?: unknown) =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const made = await admin("PUT", "/v1/flags/checkout", {
      enabled: true,
      strategies: [{ name: "flexibleRollout", parameters: { rollout: "25", stickiness: "default" } }],
    });
    expect(made.status, JSON.stringify(made.body)).toBe(200);

    browser = await launchChromium();
    // bypassCSP only so that axe-core can be injected; the page itself runs under its CSP.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(link);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await page.goto(`${new URL(link).origin}/#/flags`);
    await page.locator('tr[data-flag="checkout"]').waitFor();

    // A segment, made in the browser.
    await page.getByRole("button", { name: "New segment" }).click();
    await page.getByLabel("Segment name").fill("beta-testers");
    await page.getByTestId("segments").getByRole("button", { name: "Add constraint" }).click();
    await page.locator("#seg-c0-ctx").fill("userId");
    await page.locator("#seg-c0-val").fill("ann, bob");
    await page.getByRole("button", { name: "Save segment" }).click();
    await page.locator('tr[data-segment="1"]').filter({ hasText: "userId IN ann, bob" }).waitFor();

    // The editor: an invalid percentage is refused with the server's message beside the field.
    await page.getByRole("button", { name: "Edit strategies of checkout" }).click();
    const editor = page.getByTestId("strategy-editor");
    await editor.getByLabel("Percentage (0-100) of strategy 1").fill("150");
    await editor.getByRole("button", { name: "Save strategies of checkout" }).click();
    await page.locator("#s0-rollout-problem").filter({ hasText: "needs rollout from 0 to 100" }).waitFor();
    await expect(page.locator("#s0-rollout").getAttribute("aria-invalid")).resolves.toBe("true");
    await assertAccessible(page, "flags page with a refused edit");

    // Fixed; a second strategy (listed users, in the segment) added and moved first; saved.
    await editor.getByLabel("Percentage (0-100) of strategy 1").fill("40");
    await editor.getByLabel("New strategy's type").selectOption("userWithId");
    await editor.getByRole("button", { name: "Add strategy" }).click();
    await editor.getByLabel("User ids (comma-separated) of strategy 2").fill("carol");
    await editor.locator('fieldset[data-strategy="1"]').getByLabel("beta-testers (#1)").check();
    await editor.getByRole("button", { name: "Add constraint" }).first().click();
    await editor.getByLabel("Context field of constraint 1 of strategy 1").fill("appVersion");
    await editor.getByLabel("Operator of constraint 1 of strategy 1").selectOption("SEMVER_GTE");
    await editor.getByLabel("Value of constraint 1 of strategy 1").fill("2.0.0");
    await editor.getByRole("button", { name: "Move up strategy 2" }).click();
    await editor.getByLabel("Why (kept in the flag's history; optional)").fill("beta first");
    await editor.getByRole("button", { name: "Save strategies of checkout" }).click();
    await page.getByTestId("editor-saved").filter({ hasText: "version 2" }).waitFor();
    const saved = await admin("GET", "/v1/flags/checkout");
    expect(saved.body.flag.strategies).toEqual([
      { name: "userWithId", parameters: { userIds: "carol" }, constraints: [], segments: [1] },
      {
        name: "flexibleRollout",
        parameters: { rollout: "40", stickiness: "default" },
        constraints: [{ contextName: "appVersion", operator: "SEMVER_GTE", value: "2.0.0" }],
      },
    ]);
    expect((await admin("GET", "/v1/flags/checkout/history?limit=1")).body[0].reason).toBe("beta first");
    await mkdir(SCREENSHOTS, { recursive: true });
    await editor.screenshot({ path: join(SCREENSHOTS, "flag-editor.png") });

    // Someone else changes the flag: the editor's save is refused, in words, and reloads.
    expect((await admin("POST", "/v1/flags/checkout/disable", {})).status).toBe(200);
    await editor.getByLabel("Percentage (0-100) of strategy 2").fill("60");
    await editor.getByRole("button", { name: "Save strategies of checkout" }).click();
    await editor.getByText("Changed by someone else:").waitFor();
    await editor.getByRole("button", { name: "Reload checkout" }).click();
    await editor.getByText("(version 3;").waitFor();
    expect((await admin("GET", "/v1/flags/checkout")).body.flag.strategies[1].parameters.rollout).toBe("40");

    // A variant with a payload.
    await editor.getByRole("button", { name: "Add variant" }).click();
    await editor.getByLabel("Name of variant 1").fill("blue");
    await editor.getByLabel("Weight of variant 1").fill("1000");
    await editor.getByLabel("Payload type of variant 1").selectOption("string");
    await editor.getByLabel("Payload of variant 1").fill("b");
    await editor.getByRole("button", { name: "Save strategies of checkout" }).click();
    await page.getByTestId("editor-saved").filter({ hasText: "version 4" }).waitFor();
    expect((await admin("GET", "/v1/flags/checkout")).body.flag.variants).toEqual([
      {
        name: "blue",
        weight: 1000,
        weightType: "variable",
        stickiness: "default",
        payload: { type: "string", value: "b" },
      },
    ]);

    // A scheduled change with its reason (`baton flags disable --at ... --reason ...`).
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000);
    await page.getByLabel("Change", { exact: true }).selectOption("disable");
    await page.getByLabel("At (your time zone)").fill(local.toISOString().slice(0, 16));
    await page.getByLabel("Why (optional; kept in the flag's history)").fill("end of beta");
    await page.getByRole("button", { name: "Schedule", exact: true }).click();
    await page.getByTestId("schedule").getByText("turn off").waitFor();
    const pending = (await admin("GET", "/v1/flags/schedule")).body.pending;
    expect(pending).toMatchObject([{ flag: "checkout", action: "disable", reason: "end of beta" }]);
    await page.getByRole("button", { name: /^Cancel change \d+: checkout turn off$/ }).click();
    await page.getByText("No change is scheduled.").waitFor();

    // A pasted file: its diff first, then applied as shown.
    const file = [
      "- name: search-v2",
      "  enabled: true",
      "  strategies:",
      "    - { name: default, segments: [1] }",
      "- name: checkout",
      "  enabled: true",
      `  strategies: ${JSON.stringify(saved.body.flag.strategies)}`,
    ].join("\n");
    const apply = page.getByTestId("flags-apply");
    await apply.getByLabel(/^Flag file/).fill(file);
    await apply.getByRole("button", { name: "Preview changes" }).click();
    const plan = page.getByTestId("apply-plan");
    await plan.getByText("Flags created: search-v2").waitFor();
    await plan.getByText("Flags changed: checkout").waitFor();
    await expect(
      plan.locator(".diff-added").filter({ hasText: '+   "enabled": true' }).count(),
    ).resolves.toBe(2);
    await expect(
      plan.locator(".diff-removed").filter({ hasText: '-   "enabled": false' }).count(),
    ).resolves.toBe(1);
    expect((await admin("GET", "/v1/flags/search-v2")).status).toBe(404); // a preview writes nothing
    await assertAccessible(page, "flags page with an apply preview");
    await plan.getByRole("button", { name: "Apply these changes" }).click();
    await page.getByTestId("apply-done").filter({ hasText: "created search-v2; changed checkout" }).waitFor();
    const search = await admin("GET", "/v1/flags/search-v2");
    expect(search.body.flag).toMatchObject({
      enabled: true,
      strategies: [{ name: "default", segments: [1] }],
    });

    // Release waves: this `baton up` has one router, so a second tab gets a wave's status (as a
    // RegionalControlPlane sends it) in its live events; each region's version and split show.
    const waves = await context.newPage();
    await waves.route("**/v1/events", (route) =>
      route.fulfill({
        status: 200,
        headers: { "content-type": "text/event-stream" },
        body: `event: tick\ndata: ${JSON.stringify(waveTick())}\n\n`,
      }),
    );
    await waves.goto(`${new URL(link).origin}/#/overview`);
    const regions = waves.getByTestId("regions");
    await regions.locator('tr[data-region="eu"]').filter({ hasText: "v2 100%" }).waitFor();
    await regions.locator('tr[data-region="us"]').filter({ hasText: "v2 30%, v1 70%" }).waitFor();
    await expect(regions.locator('tr[data-region="us"]').textContent()).resolves.toContain("step 1");
    await expect(
      regions.locator('tr[data-region="eu"]').getByTestId("region-measured").textContent(),
    ).resolves.toBe("v2: 12.0 req/s, 0.0% errors, p95 9.0 ms");
    await expect(
      regions.locator('tr[data-region="us"]').getByTestId("region-measured").textContent(),
    ).resolves.toMatch(/^its router did not answer: router unreachable/);
    await waves.getByRole("link", { name: "Releases" }).click();
    await waves.getByRole("heading", { name: "Waves per region" }).waitFor();
    await assertAccessible(waves, "releases page with waves");
    await waves.close();

    // Down: asked first, naming what stops; then the page says it stopped, and baton up exits 0.
    await until("v1 to serve", async () => (await apiGet<any>(dir, "/v1/status")).serving?.version === "v1");
    await page.getByRole("link", { name: "Overview" }).click();
    await assertAccessible(page, "overview page");
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByRole("button", { name: /Stop the service, router and control plane/ }).click();
    await page.getByTestId("stopped").filter({ hasText: "The control plane has stopped" }).waitFor();
    expect(asked).toMatch(/Stop shop: its 1 instance drain and stop, then the router and the control plane/);
    await page.getByTestId("connection").filter({ hasText: "stopped (baton down)" }).waitFor();
    const exit = await Promise.race([
      exitOf(up!),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("baton up still runs")), WAIT)),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(errors).toEqual([]);
    console.log(`dashboard flags e2e: ${Date.now() - started} ms`);
  }, 60_000);
});

/** A tick of a control plane with release waves: v2 done in eu, at its first canary step in us. */
function waveTick() {
  const at = new Date().toISOString();
  const release = (id: number, service: string, status: string, strategy = "canary") => ({
    id,
    service,
    version: "v2",
    previousVersion: "v1",
    strategy,
    status,
    step: 0,
    stepStartedAt: at,
    reason: null,
    instances: [],
    previousInstances: [],
    dir: null,
    env: {},
    rollbackOf: null,
    settings: { canary: { steps: [{ weight: 30, pause: 60_000 }, { weight: 100 }] } },
    createdAt: at,
    updatedAt: at,
  });
  const region = (name: string, version: string, r: ReturnType<typeof release>) => ({
    region: name,
    service: `shop.${name}`,
    serving: { version, instances: [{ address: "127.0.0.1:9", state: "ready", pid: 1 }] },
    warm: null,
    release: r,
    decisions: [],
    waiting: null,
    auditChain: { ok: true, checkedAt: at },
  });
  return {
    at,
    status: {
      service: "shop",
      release: release(5, "shop", "progressing", "waves"),
      decisions: [],
      regions: [
        region("eu", "v2", release(6, "shop.eu", "succeeded")),
        region("us", "v1", release(7, "shop.us", "progressing")),
      ],
    },
    stats: null,
    // What each region's router measured (Dashboard's `regionStats`); us's router is away.
    regions: [
      {
        region: "eu",
        windowSeconds: 5,
        tracks: [
          {
            version: "v2",
            track: "stable",
            current: true,
            weight: 10_000,
            requestsPerSecond: 12,
            errorRate: 0,
            p50: 3,
            p95: 9,
            p99: 12,
          },
        ],
      },
      { region: "us", windowSeconds: 5, tracks: [], error: "router unreachable: connect ECONNREFUSED" },
    ],
    flags: null,
  };
}
