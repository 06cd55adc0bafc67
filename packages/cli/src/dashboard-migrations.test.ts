import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../control/src/providers/free-port.js";
import { TEST_DATABASE_URL, testSchema } from "../../control/src/test-support/test-database.js";
import { apiGet, apiPost, exitOf } from "./test-support/baton-cli.js";
import {
  assertAccessible,
  launchChromium,
  requireChromium,
  SCREENSHOTS,
  startBatonUp,
} from "./test-support/dashboard-browser.js";

const ECHO_DIST = fileURLToPath(new URL("../../../examples/echo-service/dist/", import.meta.url));
/** Every wait in the browser is bounded: a slow machine fails with what it waited for. */
const WAIT = 20_000;
/** Rows to backfill: in batches of 2000 with 80 ms between them, several seconds of progress. */
const ROWS = 150_000;
const app = `dashmig_${randomBytes(3).toString("hex")}`;

let dir: string;
let release: string;
let schema: Awaited<ReturnType<typeof testSchema>>;
let admin: pg.Client;
let up: ChildProcess | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  requireChromium();
  dir = await mkdtemp(join(tmpdir(), "baton-dashmig-"));
  await chmod(dir, 0o755);
  schema = await testSchema("dashmig_e2e");
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${app}`);
  await admin.query(`CREATE TABLE ${app}.orders (id int PRIMARY KEY, cents int NOT NULL)`);
  await admin.query(`INSERT INTO ${app}.orders SELECT g, g % 10000 FROM generate_series(1, ${ROWS}) g`);
  await admin.query(`ANALYZE ${app}.orders`); // the bar's total: PostgreSQL's estimate of the rows
  // The echo service's release directory, with the migration this release needs beside it.
  release = join(dir, "release");
  await mkdir(release);
  await symlink(ECHO_DIST, join(release, "dist"));
  await writeFile(
    join(release, "02_euros.yaml"),
    "operations:\n  - add_column: { table: orders, column: { name: euros, type: numeric, nullable: true }, up: cents / 100.0 }\n",
  );
  await writeFile(
    join(dir, "baton.yaml"),
    `service: shop
listen: ${await freePort()}
instances: 1
run: ${process.execPath} dist/server.js
health: { startTimeout: 10s }
drain: { timeout: 1s, preStop: 0s }
migration:
  file: 02_euros.yaml
  schema: ${app}
  backfill: { batchSize: 2000, delay: 80ms }
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
  if (admin) {
    for (const s of (await admin.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE '${app}%'`)).rows)
      await admin.query(`DROP SCHEMA "${s.nspname}" CASCADE`);
    await admin.query("DELETE FROM baton_migrate.migrations WHERE schema = $1", [app]).catch(() => {});
    await admin.end();
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
    args: ["--api-port", "0", "--listen-host", "127.0.0.1"],
    env: { DATABASE_URL: TEST_DATABASE_URL, BATON_DB_SCHEMA: schema.schema },
  });
  return (await started).link;
}

describe("the Migrations page in a real browser", () => {
  it("watches a release's backfill progress live, then the migration completed by the release", async () => {
    const link = await startUp();
    browser = await launchChromium();
    // bypassCSP only so that axe-core can be injected; the page itself runs under its CSP.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));

    await page.goto(link);
    await page.getByTestId("connection").filter({ hasText: "live" }).waitFor();
    await page.getByRole("link", { name: "Migrations" }).click();
    await page.getByRole("heading", { name: "Migrations", level: 1 }).waitFor();
    await page.getByTestId("migration-config").getByText(app).waitFor();
    await page.getByRole("heading", { name: "No migration in progress" }).waitFor();

    // The first release starts the migration before its instances: its backfill runs for seconds.
    const v1 = await apiPost(dir, "/v1/deploy", { version: "v1", dir: release });
    expect(v1).toMatchObject({ status: 202 });
    const backfill = page.getByTestId("backfill");
    const bar = backfill.getByRole("progressbar");
    await bar.waitFor();
    await expect(bar.getAttribute("max")).resolves.toMatch(/^\d+$/);
    await page.getByRole("heading", { name: "In progress: 02_euros" }).waitFor();
    await page.getByTestId("operations").getByText("add_column orders.euros (backfilled)").waitFor();

    // The bar moves: at least three different values, each larger (bounded), with rows/s shown.
    const values: number[] = [];
    const deadline = Date.now() + WAIT;
    while (values.length < 3 && Date.now() < deadline) {
      const value = await bar.evaluate((el) => (el as unknown as { value: number }).value).catch(() => 0);
      if (value > 0 && value < ROWS && value !== values.at(-1)) values.push(value);
      await page.waitForTimeout(200);
    }
    expect(values.length, `the bar's values seen: ${values.join(", ")}`).toBe(3);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    await expect(backfill.getByTestId("backfill-numbers").textContent()).resolves.toMatch(
      /^[\d,.\s]+ of [\d,.\s]+ rows \(\d+%\) · [\d,.\s]+ rows\/s · about \d+ (s|min) left$/,
    );
    // While it runs, neither action is offered, and the page says why in words.
    await expect(page.getByRole("button", { name: "Complete" }).isDisabled()).resolves.toBe(true);
    await page.getByText(/by release #1 of v1\.$/).waitFor();
    await page
      .getByText(
        "Not now: release 1 of v1 is in flight (starting); migration 02_euros is its own: it completes with the release once the old version has drained: promote the release, or wait for it",
      )
      .waitFor();
    await assertAccessible(page, "migrations");
    await page.evaluate(() =>
      (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0),
    );
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, "migrations.png") });

    // The release completes it once v1 serves: the history says so, and nothing is in progress.
    await page
      .getByTestId("migration-history")
      .locator("tr", { hasText: "02_euros" })
      .getByText("completed")
      .waitFor({ timeout: 30_000 });
    await page.getByRole("heading", { name: "No migration in progress" }).waitFor();
    await page.getByTestId("version-schemas").getByText(`${app}_02_euros`).first().waitFor();
    const view = await apiGet<any>(dir, "/v1/migration");
    expect(view.history[0]).toMatchObject({ name: "02_euros", status: "completed" });
    const [wrong] = (
      await admin.query(
        `SELECT count(*)::int AS n FROM ${app}.orders WHERE euros IS DISTINCT FROM cents / 100.0`,
      )
    ).rows;
    expect(wrong).toEqual({ n: 0 });

    // One started by hand (what baton migrate start does) from the page's form, asked first; it is
    // the operator's to finish: Complete, asked first.
    const note = join(dir, "03_note.yaml");
    await writeFile(
      note,
      "operations:\n  - add_column: { table: orders, column: { name: note, type: text, nullable: true } }\n",
    );
    page.once("dialog", (d) => void d.accept());
    await page.getByLabel(/Start a migration file by hand/).fill(note);
    await page.getByRole("button", { name: "Start migration" }).click();
    await page.getByTestId("migration-done").filter({ hasText: "Migration 03_note starting" }).waitFor();
    await page.getByRole("heading", { name: "In progress: 03_note" }).waitFor();
    await page.getByText(/by hand \(baton migrate start\)\.$/).waitFor();
    let asked = "";
    page.once("dialog", (d) => {
      asked = d.message();
      void d.accept();
    });
    await page.getByRole("button", { name: "Complete" }).click();
    await page
      .getByTestId("migration-done")
      .filter({ hasText: "Complete: migration 03_note completed." })
      .waitFor();
    expect(asked).toMatch(/^Complete migration 03_note\?/);
    await page.getByRole("heading", { name: "No migration in progress" }).waitFor();
    const audit = await apiGet<any>(dir, "/v1/audit?action=migration.completed");
    expect(audit.events[0]).toMatchObject({ actor: "dashboard", action: "migration.completed" });
    expect(errors).toEqual([]);
  }, 60_000);
});
