import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { BIN } from "./baton-cli.js";

/** The dashboard's end-to-end tests drive Debian's headless Chromium (`.ci/run` installs it). */
export const CHROMIUM = process.env.BATON_CHROMIUM ?? "/usr/bin/chromium-headless-shell";
const AXE = fileURLToPath(new URL("../../../../node_modules/axe-core/axe.min.js", import.meta.url));
/**
 * The committed pictures (docs/screenshots) are rewritten only when asked
 * (BATON_UPDATE_SCREENSHOTS=1 npx vitest run <test file>): every run takes them, but an ordinary
 * run leaves the working tree as it found it.
 */
export const SCREENSHOTS = process.env.BATON_UPDATE_SCREENSHOTS
  ? fileURLToPath(new URL("../../../../docs/screenshots/", import.meta.url))
  : join(tmpdir(), "baton-dashboard-screenshots");

/** Fails at once, saying what to install, when there is no Chromium to drive. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (apt-get install chromium-headless-shell; .ci/run does) or set BATON_CHROMIUM`,
    );
}

/** Debian's Chromium, headless, with what a container without a desktop needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
}

/**
 * `baton up` in `dir` with `args`; resolves with the process and the one-time login link it
 * printed, once it says it is up (within `waitMs`), or rejects with what it said.
 */
export function startBatonUp(opts: {
  dir: string;
  args: string[];
  env: Record<string, string>;
  waitMs?: number;
  /** Told the process as soon as it is spawned, so that a test's clean-up can stop it whatever happens. */
  onSpawn?: (child: ChildProcess) => void;
}): Promise<{ child: ChildProcess; link: string }> {
  const waitMs = opts.waitMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "up", ...opts.args], {
      cwd: opts.dir,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    opts.onSpawn?.(child);
    let said = "";
    const timer = setTimeout(
      () =>
        reject(Object.assign(new Error(`baton up did not start within ${waitMs} ms:\n${said}`), { child })),
      waitMs,
    );
    const onData = (d: Buffer) => {
      said += d.toString();
      if (process.env.BATON_TEST_VERBOSE) process.stdout.write(d);
      const link = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/#login=[\w-]+)/.exec(said)?.[1];
      if (link && said.includes('"event":"baton-up"')) {
        clearTimeout(timer);
        resolve({ child, link });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`baton up exited (${code ?? signal}):\n${said}`));
    });
  });
}

/** axe-core in the page: no serious or critical violation (each named with where it is). */
export async function assertAccessible(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run(): Promise<any> } }).axe.run();
    return result.violations
      .filter((v: any) => v.impact === "serious" || v.impact === "critical")
      .map(
        (v: any) =>
          `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n: any) => n.target.join(" ")).join(", ")}`,
      );
  });
  expect(violations, `axe on the ${name} page`).toEqual([]);
}

/** The page from its top, as `name`.png (docs/screenshots only when asked; see SCREENSHOTS). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.evaluate(() =>
    (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0),
  );
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
