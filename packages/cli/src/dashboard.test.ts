import type { ChildProcess } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { startLoad } from "../../router/src/test-support/load.js";
import { apiGet, apiPost, exitOf, until } from "./test-support/baton-cli.js";
import {
  assertAccessible,
  launchChromium,
  requireChromium,
  SCREENSHOTS,
  screenshot,
  startBatonUp,
} from "./test-support/dashboard-browser.js";

const ECHO_DIR = fileURLToPath(new URL("../../../examples/echo-service/", import.meta.url));
/** Every wait in the browser is bounded: a slow machine fails with what it waited for. */
const WAIT = 20_000;

let dir: string;
let apiPort: number;
let schema: Awaited<ReturnType<typeof testSchema>>;
let up: ChildProcess | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  requireChromium();
  dir = await mkdtemp(join(tmpdir(), "baton-dashboard-"));
  await chmod(dir, 0o755);
  schema = await testSchema("dashboard_e2e");
  apiPort = await freePort();
  // Small samples; a long pause that the test ends with Promote (a bad version fails before it).
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${await freePort()}
instances: 2
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
strategy: canary
canary:
  steps: [ { weight: 30, pause: 60s }, { weight: 100 } ]
analysis: { minRequests: 60 }
stickiness: { header: x-user-id }
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
    args: ["--api-port", String(apiPort), "--listen-host", "127.0.0.1"],
    env: { DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema },
  });
  return (await started).link;
}

describe("the dashboard in a real browser", () => {
  it("logs in by the one-time link, watches and drives releases and flags live, and passes axe", async () => {
    const link = await startUp();
    const v1 = await apiPost(dir, "/v1/deploy", { version: "v1", dir: ECHO_DIR });
    expect(v1).toMatchObject({ status: 202 });
    await until("v1 to serve", async () => (await apiGet<any>(dir, "/v1/status")).serving?.version === "v1");
    const { url, routerUrl } = JSON.parse(await readFile(join(dir, ".baton", "api.json"), "utf8"));
    const token = (await readFile(join(dir, ".baton", "api.token"), "utf8")).trim();
    const flag = await fetch(`${url}/v1/flags/new-checkout`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        enabled: false,
        strategies: [{ name: "flexibleRollout", parameters: { rollout: "25" } }],
      }),
    });
    expect(flag.status, await flag.clone().text()).toBeLessThan(300);
    const load = startLoad({
      url: `${routerUrl}/`,
      rate: 200,
      concurrency: 8,
      headers: (n) => ({ "x-user-id": `u${n % 2000}` }),
    });
    try {
      browser = await launchChromium();
      // bypassCSP only so that axe-core can be injected; the page itself runs under its CSP.
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
      const page = await context.newPage();
      page.setDefaultTimeout(WAIT);
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));

      // Log in with the link: the code leaves the address bar; v1 serves, live.
      const opened = Date.now();
      await page.goto(link);
      await page.getByTestId("serving").filter({ hasText: "Serving v1" }).waitFor();
      // Loaded, signed in by the code, and the first live event shown: well within a second on an
      // idle machine (the goal); the bound leaves room for a busy CI machine.
      const firstPaintMs = Date.now() - opened;
      console.log(`dashboard: signed in and live in ${firstPaintMs} ms`);
      expect(firstPaintMs).toBeLessThan(5000);
      expect(page.url()).not.toContain("login=");
      await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
      const replay = await page.request.post(`${new URL(link).origin}/v1/session`, {
        data: { code: link.split("#login=")[1] },
      });
      expect(replay.status()).toBe(401); // the link is spent
      await page
        .getByText(/v1: \d+(\.\d+)?$/)
        .first()
        .waitFor(); // the requests/s chart has v1's number
      await assertAccessible(page, "overview");

      // Deploy v2 from the form (reached by keyboard: skip link, Overview, Releases); the split
      // moves to it and its charts fill, without a reload.
      await page.locator("body").focus();
      await page.keyboard.press("Tab");
      await expect(page.evaluate(() => (globalThis as any).document.activeElement.textContent)).resolves.toBe(
        "Skip to content",
      );
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { name: "Releases", level: 1 }).waitFor();
      await page.getByLabel("Version", { exact: true }).fill("v2");
      await page.getByLabel("Directory on the control plane's machine").fill(ECHO_DIR);
      await page.getByRole("button", { name: "Deploy" }).click();
      await page.getByText(/Release #2 of v2 started/).waitFor();
      await assertAccessible(page, "releases");
      await page.getByRole("link", { name: "Overview" }).click();
      const v2Row = page.getByTestId("split").locator("tr", { hasText: "v2" });
      await v2Row.getByRole("cell", { name: "30%", exact: true }).waitFor(); // the split moved
      await page
        .getByText(/v2: [1-9]\d*(\.\d+)?$/)
        .first()
        .waitFor(); // v2 has requests/s now
      // The four uPlot charts were redrawn with a line for v2.
      await page.locator(".chart .u-legend", { hasText: "v2" }).nth(3).waitFor();
      expect(await page.locator(".chart canvas").count()).toBe(4);
      await page.waitForTimeout(4000); // v2 holds at 30%: a few more seconds of both lines for the picture
      await screenshot(page, "overview");

      // v2 holds at 30% for its pause; Promote ends it, recorded as the operator's call.
      await page.getByRole("link", { name: "Releases" }).click();
      await page.getByRole("button", { name: "Promote" }).click();
      await page.getByText("Promote: asked; the release moves at its next look.").waitFor();
      await page.locator("li.decision", { hasText: "promoted by the operator" }).first().waitFor();
      await page.getByRole("link", { name: "Overview" }).click();
      await page.getByTestId("serving").filter({ hasText: "Serving v2" }).waitFor();

      // A bad v3 (30% of its requests fail): the rollback and its reason appear by themselves.
      await page.getByRole("link", { name: "Releases" }).click();
      await page.getByLabel("Version", { exact: true }).fill("v3");
      await page.getByLabel(/Environment/).fill("FAIL_RATE=0.3");
      await page.getByLabel("Strategy", { exact: true }).selectOption("canary"); // `baton deploy --strategy`
      const deployed = page.waitForRequest((r) => r.url().endsWith("/v1/deploy"));
      await page.getByRole("button", { name: "Deploy" }).click();
      expect(JSON.parse((await deployed).postData()!)).toMatchObject({
        version: "v3",
        strategy: "canary",
        env: { FAIL_RATE: "0.3" },
        actor: "dashboard",
      });
      await page.getByText(/Release #3 of v3 started/).waitFor();
      const summary = page.locator("#detail-title ~ [data-testid=release-summary]");
      await summary.filter({ hasText: "rolled back" }).waitFor();
      await expect(summary.getByTestId("release-reason").textContent()).resolves.toMatch(
        /error rate 0\.\d+ > /,
      );
      await page.locator("li.decision", { hasText: "fail" }).first().waitFor();
      await screenshot(page, "release");
      // Why, drawn: the error rate's band ended above the tolerance line, and the chart says so in words.
      await page.getByTestId("cmp-errors-now").filter({ hasText: "above the tolerance" }).waitFor();
      expect(await page.getByTestId("analysis").locator(".chart canvas").count()).toBe(2);
      // The timeline: what the release did, kept with it (closed once the release has ended).
      await page.getByTestId("timeline").locator("summary").click();
      await page
        .getByTestId("timeline")
        .getByText(/rolling back v3: error rate/)
        .waitFor();
      await assertAccessible(page, "release analysis");
      await page.getByTestId("analysis").screenshot({ path: join(SCREENSHOTS, "release-analysis.png") });

      // Toggle a flag; the API agrees.
      await page.getByRole("link", { name: "Flags" }).click();
      await page.getByRole("button", { name: "Turn on new-checkout" }).click();
      await page
        .locator("tr[data-flag=new-checkout]")
        .getByRole("cell", { name: "on", exact: true })
        .waitFor();
      expect((await apiGet<any>(dir, "/v1/flags/new-checkout")).flag.enabled).toBe(true);
      await page.getByLabel(/rollout of new-checkout, new value/).fill("50");
      await page.getByRole("button", { name: "Set rollout of new-checkout" }).click();
      await page.locator('label[for="rollout-new-checkout"]', { hasText: /^50%/ }).waitFor();
      const stored = (await apiGet<any>(dir, "/v1/flags/new-checkout")).flag.strategies[0].parameters;
      expect(stored.rollout).toBe("50");
      // A guarded rollout started from the page, watched, and aborted (no SDK reports outcomes here).
      await page.getByRole("button", { name: "Guarded rollout of new-checkout" }).click();
      await page.getByLabel("Steps (percentages, in order)").fill("75, 100");
      await page.getByRole("button", { name: "Start guarded rollout" }).click();
      await page.getByTestId("guarded-rollout").getByText("running", { exact: true }).waitFor();
      await page.getByRole("button", { name: "Abort rollout" }).click();
      await page.getByTestId("guarded-rollout").getByText("aborted", { exact: true }).waitFor();
      await page.locator('label[for="rollout-new-checkout"]', { hasText: /^50%/ }).waitFor(); // back
      await page.getByRole("button", { name: "History of new-checkout" }).click();
      await page.getByRole("heading", { name: "History of new-checkout" }).waitFor();
      // Created from the page, then deleted (after the confirmation the page asks for).
      await page.getByLabel("Name", { exact: true }).fill("dark-mode");
      await page.getByRole("button", { name: "Create flag (off)" }).click();
      await page.locator("tr[data-flag=dark-mode]").getByRole("cell", { name: "off", exact: true }).waitFor();
      page.once("dialog", (d) => void d.accept());
      await page.getByRole("button", { name: "Delete dark-mode" }).click();
      await page.locator("tr[data-flag=dark-mode]").waitFor({ state: "detached" });
      // A change scheduled for tomorrow, listed, then cancelled.
      const tomorrow = new Date(Date.now() + 86_400_000 - new Date().getTimezoneOffset() * 60_000);
      await page.getByLabel("Change", { exact: true }).selectOption("disable");
      await page.getByLabel("At (your time zone)").fill(tomorrow.toISOString().slice(0, 16));
      await page.getByRole("button", { name: "Schedule", exact: true }).click();
      await page
        .getByTestId("schedule")
        .locator("tr", { hasText: "new-checkout" })
        .getByText("turn off")
        .waitFor();
      await page.getByRole("button", { name: /^Cancel change \d+: new-checkout turn off$/ }).click();
      await page.getByText("No change is scheduled.").waitFor();

      // A client token for an SDK: shown once, then revoked.
      await page.getByLabel("New token's name").fill("web");
      await page.getByRole("button", { name: "Create token" }).click();
      await page
        .getByTestId("new-token")
        .getByText(/^baton-client\./)
        .waitFor();
      page.once("dialog", (d) => void d.accept());
      await page.getByRole("button", { name: "Revoke web" }).click();
      await page.locator("tr[data-token=web]").waitFor({ state: "detached" });
      await assertAccessible(page, "flags");
      await screenshot(page, "flags");

      await page.getByRole("link", { name: "Instances" }).click();
      await page.getByTestId("instances").locator("tr", { hasText: "serving" }).first().waitFor();
      const versions = await page.getByTestId("instances").locator("tbody th").allTextContents();
      expect(versions.filter((v) => v === "v2")).toHaveLength(2); // serving, and maybe v1 kept warm
      // The router's live view: both v2 instances healthy, with their last check in words.
      const routerRows = page.getByTestId("router-instances").locator("tbody tr", { hasText: "v2" });
      await routerRows.filter({ hasText: "healthy: takes traffic" }).nth(1).waitFor();
      expect(await routerRows.first().textContent()).toMatch(/passing at /);
      await page.locator("details.log summary").first().click();
      await assertAccessible(page, "instances");
      await screenshot(page, "instances");

      await page.getByRole("link", { name: "Audit" }).click();
      await page
        .getByTestId("audit-verdict")
        .getByText(/Chain verified: [\d,]+ events, last hash [0-9a-f]{16}…/)
        .waitFor();
      // Filtered by an action's prefix: the events narrow to the flags' ones, and the URL says so.
      const auditRows = page.getByTestId("audit-events").locator("tbody tr");
      await auditRows.first().waitFor();
      const everyAction = () =>
        auditRows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-action")!));
      const unfiltered = await everyAction();
      expect(unfiltered.some((a) => a.startsWith("release."))).toBe(true);
      await page.getByLabel("Action", { exact: true }).fill("flag.");
      await page.getByRole("button", { name: "Show matching events" }).click();
      await page.getByTestId("audit-shown").filter({ hasText: 'where action "flag."' }).waitFor();
      const narrowed = await everyAction();
      expect(narrowed.length).toBeGreaterThan(0);
      expect(narrowed.length).toBeLessThan(unfiltered.length);
      expect(narrowed.filter((a) => !a.startsWith("flag."))).toEqual([]);
      expect(new URL(page.url()).hash).toBe("#/audit?action=flag.");
      await page.reload(); // a shared link shows the same events
      await page.getByTestId("audit-shown").filter({ hasText: 'where action "flag."' }).waitFor();
      await expect(page.getByLabel("Action", { exact: true }).inputValue()).resolves.toBe("flag.");
      await auditRows.first().locator("summary").click(); // an event's details, as JSON
      await auditRows.first().locator("pre").filter({ hasText: '"hash"' }).waitFor();
      await assertAccessible(page, "audit");
      await screenshot(page, "audit");

      // The control plane restarts: the page says so in words, then is live again by itself, still
      // signed in (sessions are kept in the state database), and a change works with the same cookie.
      const cookieOf = async () => (await context.cookies()).find((c) => c.name === "baton_session")?.value;
      const cookie = await cookieOf();
      up!.kill("SIGTERM");
      await page.getByTestId("connection").filter({ hasText: "reconnecting…" }).waitFor();
      await exitOf(up!);
      await startUp();
      await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
      await page.getByRole("link", { name: "Overview" }).click();
      await page.getByTestId("serving").filter({ hasText: "Serving v2" }).waitFor();
      expect(await page.getByLabel("API token").count()).toBe(0); // never asked to sign in
      await page.getByRole("link", { name: "Flags" }).click();
      await page.getByRole("button", { name: "Turn off new-checkout" }).click();
      await page
        .locator("tr[data-flag=new-checkout]")
        .getByRole("cell", { name: "off", exact: true })
        .waitFor();
      expect((await apiGet<any>(dir, "/v1/flags/new-checkout")).flag.enabled).toBe(false);
      expect(await cookieOf()).toBe(cookie);

      // Signing out ends the session for the API too.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("API token").waitFor();
      await assertAccessible(page, "sign-in");
      expect((await page.request.get(`${new URL(link).origin}/v1/status`)).status()).toBe(401);
      // No script error; the console's only complaints are the requests the restart and logout refused.
      expect(
        errors.filter(
          (e) => !/^Failed to load resource: (net::|the server responded with a status of 401)/.test(e),
        ),
      ).toEqual([]);
      expect(load.result.failed).toBeGreaterThan(0); // v3's, while it had traffic
    } finally {
      await load.stop();
    }
  }, 90_000);
});
