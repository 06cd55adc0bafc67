import {
  type ConnectionHooks,
  UpstreamConnection,
  UpstreamError,
  type UpstreamHandler,
  type UpstreamRequest,
} from "./upstream-connection.js";

export interface UpstreamPoolOptions {
  maxConnections: number;
  /** Requests that may wait for a connection once all `maxConnections` are busy. */
  maxQueued: number;
  /** Longest wait for a connection; then the request fails as never sent (the exchange answers 503). */
  queueTimeout: number;
  connectTimeout: number;
  /** Longest wait for the response head. */
  responseTimeout: number;
  /** Longest silence in the middle of a response. */
  idleTimeout: number;
  /**
   * How long an idle keep-alive connection is kept. Below the usual server default (Node's 5 s),
   * so the router drops a connection before the instance does and rarely writes onto a closing one.
   */
  keepAlive: number;
}

interface Waiting {
  req: UpstreamRequest;
  handler: UpstreamHandler;
  /** Epoch ms when it started waiting. */
  at: number;
}

/** Codes of the failures that mean "the instance is busy", not "the instance is broken". */
export const QUEUE_FULL = "BATON_QUEUE_FULL";
export const QUEUE_TIMEOUT = "BATON_QUEUE_TIMEOUT";

/**
 * Keep-alive HTTP/1.1 connections to one instance. Requests take an idle connection (most recent
 * first, as it is least likely to have been closed), else open one up to the limit, else queue.
 * One sweeper per pool enforces every timeout, so the request path arms no timers.
 */
export class UpstreamPool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private waiting: Waiting[] = [];
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private opts: UpstreamPoolOptions,
  ) {
    this.sweeper = setInterval(() => this.sweep(), 250);
    this.sweeper.unref();
  }

  /** Connections that are up (idle or busy). */
  get connected(): number {
    let n = 0;
    for (const c of this.all) if (!c.connecting) n++;
    return n;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** A config update: limits apply to the next requests and the next sweep. */
  configure(opts: UpstreamPoolOptions): void {
    this.opts = opts;
  }

  request(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (this.closed) {
      handler.onError(new UpstreamError("BATON_POOL_CLOSED", "instance was removed"), false);
      return;
    }
    let conn: UpstreamConnection | undefined;
    while ((conn = this.idle.pop()) !== undefined) {
      if (!conn.idle) continue;
      // Past the instance's own keep-alive hint the instance may be closing it right now.
      if (
        conn.keepAliveMs !== Number.POSITIVE_INFINITY &&
        Date.now() - conn.lastActivity >= conn.keepAliveMs
      ) {
        conn.close();
        continue;
      }
      return conn.send(req, handler);
    }
    if (this.all.size < this.opts.maxConnections) {
      this.waiting.push({ req, handler, at: Date.now() });
      this.open();
      return;
    }
    // Every connection is busy. Waiting without a bound let slow clients that held the
    // connections turn every other request into a timeout; now the wait is capped in count and
    // time, and the exchange answers 503 (or tries another instance) when it runs out.
    if (this.waiting.length - this.connectingCount() >= this.opts.maxQueued) {
      handler.onError(
        new UpstreamError(QUEUE_FULL, `queue full (${this.waiting.length} waiting for a connection)`),
        false,
      );
      return;
    }
    this.waiting.push({ req, handler, at: Date.now() });
  }

  /** Closes every connection; queued requests fail as never sent. */
  destroy(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    this.failWaiting(new UpstreamError("BATON_POOL_CLOSED", "instance was removed"));
    for (const c of [...this.all]) {
      // An exchange still running is told (the client gets a 502 or a cut, and it is counted).
      if (c.busy)
        c.fail(new UpstreamError("BATON_INSTANCE_STOPPED", "instance stopped before the response ended"));
      else c.abort();
    }
    this.idle.length = 0;
  }

  private open(): void {
    this.all.add(new UpstreamConnection(this.host, this.port, this.hooks));
  }

  private readonly hooks: ConnectionHooks = {
    connected: (conn) => this.serve(conn),
    released: (conn, reusable) => {
      if (reusable && !this.closed) return this.serve(conn);
      this.all.delete(conn);
      if (this.waiting.length > this.connectingCount() && this.all.size < this.opts.maxConnections)
        this.open();
    },
    connectFailed: (conn, err) => {
      this.all.delete(conn);
      // The instance does not take connections: everyone queued for it may go elsewhere at once.
      this.failWaiting(err);
    },
  };

  private serve(conn: UpstreamConnection): void {
    const next = this.waiting.shift();
    if (next) conn.send(next.req, next.handler);
    else this.idle.push(conn);
  }

  private connectingCount(): number {
    let n = 0;
    for (const c of this.all) if (c.connecting) n++;
    return n;
  }

  /** Fails the requests that waited longer than `queueTimeout` (the oldest are first in line). */
  private expireWaiting(now: number): void {
    const limit = this.opts.queueTimeout;
    let n = 0;
    while (n < this.waiting.length && now - this.waiting[n]!.at > limit) n++;
    if (n === 0) return;
    const expired = this.waiting.splice(0, n);
    for (const w of expired) {
      w.handler.onError(new UpstreamError(QUEUE_TIMEOUT, `no free connection within ${limit}ms`), false);
    }
  }

  private failWaiting(err: Error & { code?: string }): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.handler.onError(err, false);
  }

  private sweep(): void {
    const now = Date.now();
    const o = this.opts;
    this.expireWaiting(now);
    for (const c of [...this.all]) {
      const quiet = now - c.lastActivity;
      if (c.connecting && quiet > o.connectTimeout) {
        c.fail(new UpstreamError("UPSTREAM_CONNECT_TIMEOUT", `no connection within ${o.connectTimeout}ms`));
      } else if (c.busy && !c.gotHead && quiet > o.responseTimeout) {
        c.fail(new UpstreamError("UPSTREAM_RESPONSE_TIMEOUT", `no response within ${o.responseTimeout}ms`));
      } else if (c.busy && c.gotHead && !c.paused && quiet > o.idleTimeout) {
        c.fail(new UpstreamError("UPSTREAM_BODY_TIMEOUT", `response stalled for ${o.idleTimeout}ms`));
      } else if (c.idle && quiet > Math.min(o.keepAlive, c.keepAliveMs)) {
        c.close();
      }
    }
    if (this.idle.length > 0 && this.idle.some((c) => !c.idle)) {
      const live = this.idle.filter((c) => c.idle);
      this.idle.length = 0;
      this.idle.push(...live);
    }
  }
}
