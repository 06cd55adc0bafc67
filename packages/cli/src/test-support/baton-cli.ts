import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../../dist/bin.js", import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one `baton` command to its end. */
export function batonCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { ...process.env, ...env }, timeout: 60_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** Starts `baton up` in `cwd`; resolves once it announced its API (rejects if it exits first). */
export function startBatonUp(
  cwd: string,
  env: Record<string, string>,
): Promise<ChildProcess & { said: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "up", "--api-port", "0", "--listen-host", "127.0.0.1"], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let said = "";
    const onData = (d: Buffer) => {
      said += d.toString();
      if (process.env.BATON_TEST_VERBOSE) process.stdout.write(d);
      if (said.includes('"event":"baton-up"')) resolve(Object.assign(child, { said: () => said }));
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) =>
      reject(new Error(`baton up exited (${code ?? signal}) before its API:\n${said}`)),
    );
  });
}

export interface ApiStatus {
  serving: { version: string; instances: { pid: number }[] } | null;
  warm: { version: string; instances?: { pid: number }[] } | null;
  release: { id: number; version: string; status: string; strategy: string; reason: string | null } | null;
}

/** `GET path` of the `baton up` in `cwd`, straight to its API (what the CLI asks, without a process). */
export async function apiGet<T>(cwd: string, path: string): Promise<T> {
  const { url } = JSON.parse(await readFile(join(cwd, ".baton", "api.json"), "utf8")) as { url: string };
  const token = (await readFile(join(cwd, ".baton", "api.token"), "utf8")).trim();
  const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`${path} answered HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/**
 * `POST path` with `body` to the `baton up` in `cwd`, straight to its API (what `baton deploy` or
 * `baton rollback` asks, without a process): the status and body, or the error if the connection
 * failed (the control plane died while it answered).
 */
export async function apiPost(
  cwd: string,
  path: string,
  body: unknown,
): Promise<{ status: number; text: string } | { error: string }> {
  const { url } = JSON.parse(await readFile(join(cwd, ".baton", "api.json"), "utf8")) as { url: string };
  const token = (await readFile(join(cwd, ".baton", "api.token"), "utf8")).trim();
  try {
    const res = await fetch(`${url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    return { error: String((err as Error).cause ?? err) };
  }
}

/** `GET /v1/status` of the `baton up` in `cwd`, straight to its API. */
export function apiStatus(cwd: string): Promise<ApiStatus> {
  return apiGet<ApiStatus>(cwd, "/v1/status");
}

/** Resolves with how the process ended. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
}

export async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
