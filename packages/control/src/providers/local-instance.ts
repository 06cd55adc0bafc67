import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { failpoint } from "../failpoint.js";
import { ProcessState } from "./instance-process-state.js";
import { groupAlive, processAlive, processEnv, processStartTime } from "./process-alive.js";
import type { InstanceRecord } from "./provider.js";
import { WatchedInstance } from "./watched-instance.js";

export interface LocalInstanceSpec {
  /** Shell command, e.g. `node server.js`; started with PORT, BATON_VERSION and BATON_SERVICE set. */
  run: string;
  /** The service, as baton.yaml names it: BATON_SERVICE (the runtime SDK's metrics say whose they are). */
  service?: string;
  cwd: string;
  version: string;
  port: number;
  readinessPath: string;
  /** Where stdout and stderr go (appended), so the instance outlives the control plane. */
  logFile: string;
  env?: Record<string, string>;
  /**
   * Set as BATON_INSTANCE_OF in the process's environment at spawn: the record that exists from
   * the first instant, by which a later control plane finds processes it has no row for.
   */
  owner?: string;
}

/** The environment variable that marks every process Baton starts for a service. */
export const OWNER_ENV = "BATON_INSTANCE_OF";

export type { InstanceRecord };

const BACKOFF_BASE_MS = 500;
/** Exits before ever becoming ready that make a version a crash loop: it fails at once. */
const CRASH_LOOP_EXITS = 3;
const BACKOFF_MAX_MS = 30_000;

/**
 * One process of one version on one port. Started detached (its own process group, output to a
 * file): killing the control plane leaves it serving. Restarted on the same port when it crashes,
 * with a doubling back-off.
 */
export class LocalInstance extends WatchedInstance {
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAt: number | undefined;
  private everReady = false;
  /** How each process of this instance ended, newest last ("exit code 1", "SIGSEGV"). */
  readonly exits: string[] = [];

  constructor(readonly spec: LocalInstanceSpec) {
    super(spec.version, spec.readinessPath);
  }

  get address(): string {
    return `127.0.0.1:${this.spec.port}`;
  }

  get record(): InstanceRecord {
    return {
      pid: this.pid,
      port: this.spec.port,
      version: this.spec.version,
      readinessPath: this.spec.readinessPath,
      ...(this.startedAt !== undefined ? { startedAt: this.startedAt } : {}),
    };
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
          ...(this.spec.service ? { BATON_SERVICE: this.spec.service } : {}),
          ...(this.spec.owner ? { [OWNER_ENV]: this.spec.owner } : {}),
        },
      });
    } finally {
      closeSync(out);
    }
    this.child.unref();
    this.pid = this.child.pid ?? 0;
    this.startedAt = processStartTime(this.pid);
    failpoint(this.spec.version, "instance.spawned");
    this.transition(ProcessState.Starting);
    this.child.once("exit", (code, sig) => {
      this.exits.push(sig ? `killed by ${sig}` : `exit code ${code}`);
      this.exited();
    });
    this.watch();
  }

  /** Takes over a process started by an earlier control plane. */
  adopt(record: InstanceRecord): boolean {
    if (!alive(record.pid) || !sameProcess(record) || !this.mine(record.pid)) return false;
    this.pid = record.pid;
    this.startedAt = record.startedAt;
    this.transition(ProcessState.Starting);
    this.watch();
    return true;
  }

  /**
   * Whether process `pid` was started for this service from this data directory: its marker says
   * so, or it has none (started before markers were set).
   */
  private mine(pid: number): boolean {
    const marker = processEnv(pid, OWNER_ENV);
    return marker === undefined || this.spec.owner === undefined || marker === this.spec.owner;
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`. Resolves when it is gone. */
  async stop(graceMs: number): Promise<void> {
    clearTimeout(this.restartTimer);
    clearTimeout(this.watchTimer);
    if (this.state === ProcessState.Stopped) return;
    this.transition(ProcessState.Stopping);
    // A process that is not the one started (its pid reused, or another data directory's instance
    // recorded in a shared database) is never signalled.
    if (!sameProcess(this.record) || !this.mine(this.pid)) return this.transition(ProcessState.Stopped);
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
    if (this.state === ProcessState.Ready) this.everReady = true;
    // The leader is gone, but what it started may not be (`npm start`'s `node server.js`, orphaned
    // to pid 1 and holding the port): the rest of its process group goes too, before any restart.
    const group = this.pid;
    if (leftovers(group)) signalGroup(group, "SIGTERM");
    if (!this.everReady && this.exits.length >= CRASH_LOOP_EXITS) {
      // A version that crashes on start will not get better by waiting out its start timeout.
      this.lastHealth = `crash loop: exited ${this.exits.length} times before becoming ready (${this.exits.join(", ")})`;
      return this.transition(ProcessState.Failed);
    }
    this.transition(ProcessState.Restarting);
    const delay = Math.min(BACKOFF_BASE_MS * 2 ** this.restarts, BACKOFF_MAX_MS);
    this.restarts++;
    this.restartTimer = setTimeout(() => void this.startAfterGroup(group), delay);
    this.restartTimer.unref();
  }

  /** Starts again once the last process group is gone (SIGKILL for what outlived the back-off). */
  private async startAfterGroup(group: number): Promise<void> {
    if (leftovers(group)) signalGroup(group, "SIGKILL");
    const deadline = Date.now() + 2_000;
    while (leftovers(group) && Date.now() < deadline) await sleep(20);
    if (this.state !== ProcessState.Restarting) return; // stopped meanwhile
    this.start();
  }

  restart(): void {
    if (this.state !== ProcessState.Stopped && this.state !== ProcessState.Failed) return;
    this.restarts = 0;
    this.start();
  }

  protected gone(): boolean {
    // Adopted, and its leader exited unseen (what it started may run on as orphans: see exited()).
    return !this.child && !(processAlive(this.pid) && sameProcess(this.record));
  }

  protected lost(): void {
    this.exited();
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

/** Whether `record.pid` is still the process that was started (same start time), when known. */
function sameProcess(record: InstanceRecord): boolean {
  if (record.startedAt === undefined) return true; // recorded before start times were kept
  const now = processStartTime(record.pid);
  // The group leader (the shell) may have exited while the app it started runs on.
  return now === undefined ? groupAlive(record.pid) : now === record.startedAt;
}

/**
 * Whether processes of the group `pgid` led run on after their leader exited. Only then is the
 * group certainly the instance's: its id cannot be taken by a new process while a member lives,
 * whereas a live process with that pid may be another one (the pid reused).
 */
function leftovers(pgid: number): boolean {
  return pgid > 0 && !processAlive(pgid) && groupAlive(pgid);
}

/** Signals process group `pgid` only (its leader may be gone; the id is not reused while any member lives). */
function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    if (pgid > 0) process.kill(-pgid, sig);
  } catch {
    /* already gone */
  }
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
