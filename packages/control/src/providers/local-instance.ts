import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { ProcessState } from "./instance-process-state.js";
import { groupAlive, processAlive } from "./process-alive.js";

export interface LocalInstanceSpec {
  /** Shell command, e.g. `node server.js`; started with PORT and BATON_VERSION set. */
  run: string;
  cwd: string;
  version: string;
  port: number;
  readinessPath: string;
  /** Where stdout and stderr go (appended), so the instance outlives the control plane. */
  logFile: string;
  env?: Record<string, string>;
}

/** What is kept in the database to adopt a running instance after a control-plane restart. */
export interface InstanceRecord {
  pid: number;
  port: number;
  version: string;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/**
 * One process of one version on one port. Started detached (its own process group, output to a
 * file): killing the control plane leaves it serving. Restarted on the same port when it crashes,
 * with a doubling back-off.
 */
export class LocalInstance {
  state: ProcessState = ProcessState.Starting;
  pid = 0;
  restarts = 0;
  lastHealth = "";
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(s: ProcessState) => void>();

  constructor(readonly spec: LocalInstanceSpec) {}

  get address(): string {
    return `127.0.0.1:${this.spec.port}`;
  }

  get record(): InstanceRecord {
    return { pid: this.pid, port: this.spec.port, version: this.spec.version };
  }

  onState(fn: (s: ProcessState) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private transition(to: ProcessState): void {
    if (this.state === to) return;
    this.state = to;
    for (const fn of this.listeners) fn(to);
  }

  /** Spawns the process and starts watching its health. */
  start(): void {
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    const out = openSync(this.spec.logFile, "a");
    try {
      this.child = spawn(shellCommand(this.spec.run), {
        shell: true,
        cwd: this.spec.cwd,
        detached: true,
        stdio: ["ignore", out, out],
        env: {
          ...process.env,
          ...this.spec.env,
          PORT: String(this.spec.port),
          BATON_VERSION: this.spec.version,
        },
      });
    } finally {
      closeSync(out);
    }
    this.child.unref();
    this.pid = this.child.pid ?? 0;
    this.transition(ProcessState.Starting);
    this.child.once("exit", () => this.exited());
    this.watch();
  }

  /** Takes over a process started by an earlier control plane. */
  adopt(record: InstanceRecord): boolean {
    if (!alive(record.pid)) return false;
    this.pid = record.pid;
    this.transition(ProcessState.Starting);
    this.watch();
    return true;
  }

  /** Resolves when ready; rejects when the instance fails, stops, or `timeoutMs` passes. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.state === ProcessState.Ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        if (this.state !== ProcessState.Ready) this.transition(ProcessState.Failed);
        reject(
          new Error(
            `instance ${this.address} (${this.spec.version}) not ready after ${timeoutMs}ms: ${this.lastHealth || "no answer"}`,
          ),
        );
      }, timeoutMs);
      const off = this.onState((s) => {
        if (s === ProcessState.Ready) {
          clearTimeout(timer);
          off();
          resolve();
        } else if (s === ProcessState.Stopped || s === ProcessState.Failed) {
          clearTimeout(timer);
          off();
          reject(
            new Error(`instance ${this.address} (${this.spec.version}) ${s}: ${this.lastHealth || "exited"}`),
          );
        }
      });
    });
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. Resolves when it is gone. */
  async stop(graceMs: number): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.watchTimer);
    if (this.state === ProcessState.Stopped) return;
    this.transition(ProcessState.Stopping);
    signal(this.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (alive(this.pid) && Date.now() < deadline) await sleep(50);
    if (alive(this.pid)) signal(this.pid, "SIGKILL");
    while (alive(this.pid)) await sleep(20);
    this.transition(ProcessState.Stopped);
  }

  private exited(): void {
    clearTimeout(this.watchTimer);
    if (this.state === ProcessState.Stopping || this.state === ProcessState.Stopped) return;
    if (this.state === ProcessState.Failed) return;
    this.transition(ProcessState.Restarting);
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** this.restarts, BACKOFF_MAX_MS);
    this.restarts++;
    this.restartTimer = setTimeout(() => this.start(), delay);
    this.restartTimer.unref();
  }

  /** Polls readiness (and, for adopted processes, liveness) every 200 ms. */
  private watch(): void {
    const tick = async () => {
      if (
        this.state === ProcessState.Stopping ||
        this.state === ProcessState.Stopped ||
        this.state === ProcessState.Restarting
      ) {
        return;
      }
      if (!this.child && !alive(this.pid)) return this.exited(); // adopted and gone
      try {
        const res = await fetch(`http://${this.address}${this.spec.readinessPath}`, {
          signal: AbortSignal.timeout(1000),
        });
        await res.arrayBuffer();
        this.lastHealth = `HTTP ${res.status} from ${this.spec.readinessPath}`;
        if (res.ok && this.state === ProcessState.Starting) this.transition(ProcessState.Ready);
      } catch (err) {
        this.lastHealth = `${(err as Error).cause ? String((err as { cause: Error }).cause.message) : (err as Error).message}`;
      }
      if ((this.state as ProcessState) !== ProcessState.Stopped) {
        this.watchTimer = setTimeout(() => void tick(), 200);
        this.watchTimer.unref();
      }
    };
    void tick();
  }
}

/**
 * Whether anything of the instance still runs. It is started detached, so its pid leads a process
 * group: the shell and what it started. The app may outlive the shell (it ignores SIGTERM, say),
 * so the group is what counts.
 */
function alive(pid: number): boolean {
  return processAlive(pid) || groupAlive(pid);
}

/** Signals the whole process group (the shell and what it started), falling back to the pid. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A simple command (`node server.js`) is exec'd by the shell, so the pid we watch is the app's
 * own and a crash of the app is seen as such. A compound one (`cd x && npm start`) keeps its shell;
 * signals go to the whole process group either way.
 */
function shellCommand(run: string): string {
  return /[;&|<>()$`\n]/.test(run) ? run : `exec ${run}`;
}
