import { formatDuration, processAlive } from "@baton/control";
import { portProblem } from "./port-check.js";
import {
  answers,
  ensureRouter,
  isRouterOf,
  kill,
  type RouterProcess,
  type StartedRouter,
} from "./router-process.js";

/** What `baton status` shows of the router (`router` in `GET /v1/status`). */
export interface RouterStatus {
  pid: number;
  url: string;
  adminUrl: string;
  /** running; restarting (down, a restart is being tried); stopped (baton up is stopping). */
  state: "running" | "restarting" | "stopped";
  /** When this process was started, or adopted by this `baton up`. */
  since: string;
  /** Restarts by this `baton up`. */
  restarts: number;
  lastRestart: {
    at: string;
    reason: string;
    previousPid: number;
    pid: number;
    /** From noticing it gone (within a poll, 0.5 s) to the new one listening. */
    downMs: number;
  } | null;
  /** The last restart attempt that failed, while the router is down. */
  lastError: string | null;
  nextAttemptAt: string | null;
}

export interface SupervisorOptions {
  dataDir: string;
  listenHost: string;
  port: number;
  trustedProxies?: string[];
  /** How often the pid is looked at and the admin API asked (ms). */
  pollMs?: number;
  /** Consecutive unanswered health checks (2 s each) after which a live router counts as hung. */
  hungAfter?: number;
  /** Records an event in the audit log (router.restarted, router.restart-failed). */
  record(action: string, details: Record<string, unknown>): Promise<void>;
  say(line: string): void;
  /** After a restart, before the next look: the control plane follows the new router. */
  onRestarted(router: RouterProcess): Promise<void>;
}

/** A router that lived less than this after a (re)start is crash-looping: back off. */
const STABLE_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;

/**
 * Keeps `baton up`'s router running. The router is its own detached process (so that it outlives
 * the control plane), so nothing restarts it when it dies: this looks at its pid every `pollMs`
 * and at its admin API, and restarts it (it resumes its routing table from its state file) as
 * soon as it is gone, or after killing it when it no longer answers. Restarts back off while it
 * crash-loops (1 s, 2 s, 4 s ... 30 s), and the old process is always gone before a new one
 * starts: two routers never run. Every restart is in the audit log and in `baton status`.
 */
export class RouterSupervisor {
  private proc: StartedRouter;
  /** Exit status of the routers this `baton up` started, once they exited. */
  private readonly exits = new WeakMap<RouterProcess, { code: number | null; signal: string | null }>();
  /** Resolves when the current router (if ours) has exited. */
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly wakers = new Set<() => void>();
  private loop: Promise<void> = Promise.resolve();
  private failures = 0;
  private streak = 0;
  private readonly view: Omit<RouterStatus, "pid" | "url" | "adminUrl">;

  constructor(
    initial: StartedRouter,
    private readonly opts: SupervisorOptions,
  ) {
    this.proc = initial;
    this.watchExit(initial);
    this.view = {
      state: "running",
      since: new Date().toISOString(),
      restarts: 0,
      lastRestart: null,
      lastError: null,
      nextAttemptAt: null,
    };
  }

  get router(): RouterProcess {
    return this.proc;
  }

  status(): RouterStatus {
    return { pid: this.proc.pid, url: this.proc.url, adminUrl: this.proc.adminUrl, ...this.view };
  }

  start(): void {
    this.loop = this.run().catch((err: unknown) => {
      this.opts.say(`router supervision stopped on an error: ${(err as Error).stack ?? err}`);
    });
  }

  /** Stops watching (before `baton down` stops the router, or when `baton up` exits). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.view.state = "stopped";
    for (const wake of this.wakers) wake();
    await this.loop;
  }

  private async run(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 500;
    while (!this.stopped) {
      await this.sleep(pollMs);
      if (this.stopped) return;
      const reason = await this.check();
      if (reason && !this.stopped) await this.restart(reason);
    }
  }

  /** Why the router must be restarted, or undefined while it is fine. */
  private async check(): Promise<string | undefined> {
    const { pid } = this.proc;
    if (!processAlive(pid)) {
      // Our own child's exit status arrives with SIGCHLD, maybe a moment after the pid is gone.
      await Promise.race([this.exited, this.sleep(500)]);
      const exit = this.exits.get(this.proc);
      if (!exit) return `pid ${pid} exited (started by an earlier baton up: exit status unknown)`;
      return exit.signal
        ? `pid ${pid} was killed by ${exit.signal}`
        : `pid ${pid} exited with code ${exit.code}`;
    }
    if (await answers(this.proc, 2000)) {
      this.failures = 0;
      return undefined;
    }
    const hungAfter = this.opts.hungAfter ?? 5;
    if (++this.failures < hungAfter || this.stopped) return undefined;
    // Alive but deaf: only a process that is our router (not a reused pid) is killed.
    if (!isRouterOf(pid, this.opts.dataDir)) return `pid ${pid} is no longer a baton router`;
    await kill(pid);
    return `pid ${pid} did not answer ${hungAfter} health checks in a row on ${this.proc.adminUrl}; killed (SIGKILL)`;
  }

  private async restart(reason: string): Promise<void> {
    const previous = this.proc;
    const downSince = Date.now();
    const lived = downSince - Date.parse(this.view.since);
    this.streak = lived < STABLE_MS && this.view.restarts > 0 ? this.streak + 1 : 0;
    this.view.state = "restarting";
    this.opts.say(`router ${reason}; restarting it`);
    while (!this.stopped) {
      const delay = this.streak === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.streak - 1));
      this.view.nextAttemptAt = new Date(Date.now() + delay).toISOString();
      if (delay) {
        this.opts.say(`router: next start attempt in ${formatDuration(delay)} (backing off)`);
        await this.sleep(delay);
        if (this.stopped) return;
      }
      try {
        const next = await ensureRouter(this.opts);
        this.adopt(next);
        break;
      } catch (err) {
        const message = await this.whyNotStarted(err as Error);
        this.streak++;
        this.view.lastError = message;
        this.opts.say(`router restart failed: ${message}`);
        await this.audit("router.restart-failed", { previousPid: previous.pid, reason, error: message });
      }
    }
    if (this.stopped) return;
    const now = new Date();
    const downMs = now.getTime() - downSince;
    this.view.restarts++;
    this.view.lastRestart = {
      at: now.toISOString(),
      reason,
      previousPid: previous.pid,
      pid: this.proc.pid,
      downMs,
    };
    this.opts.say(
      `router restarted (pid ${this.proc.pid}, was ${previous.pid}) after ${formatDuration(downMs)}: ${reason}`,
    );
    await this.audit("router.restarted", {
      pid: this.proc.pid,
      previousPid: previous.pid,
      reason,
      exit: this.exits.get(previous) ?? null,
      downMs,
      restarts: this.view.restarts,
      adminUrl: this.proc.adminUrl,
    });
    await this.opts.onRestarted(this.proc).catch((err: unknown) => {
      this.opts.say(`after the router restart: ${(err as Error).message}`);
    });
  }

  /** One line for `baton status` and the audit log; a taken public port named with its holder. */
  private async whyNotStarted(err: Error): Promise<string> {
    const portTaken = await portProblem(this.opts.listenHost, this.opts.port, "the router's public port");
    return portTaken ? `${portTaken}; stop that process` : err.message.split("\n")[0]!;
  }

  private adopt(next: StartedRouter): void {
    this.proc = next;
    this.watchExit(next);
    this.failures = 0;
    this.view.state = "running";
    this.view.since = new Date().toISOString();
    this.view.lastError = null;
    this.view.nextAttemptAt = null;
  }

  private watchExit(router: StartedRouter): void {
    const child = router.child;
    if (!child) {
      this.exited = new Promise(() => {}); // not ours: never reported
      return;
    }
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exits.set(router, { code, signal });
        resolve();
      });
    });
  }

  private async audit(action: string, details: Record<string, unknown>): Promise<void> {
    // The database may be what is failing too: a restart never waits on, or fails for, the log.
    await this.opts.record(action, details).catch((err: unknown) => {
      this.opts.say(`audit log: could not record ${action}: ${(err as Error).message}`);
    });
  }

  /** A sleep that `stop()` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }
}
