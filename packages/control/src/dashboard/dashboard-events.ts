import type { ServerResponse } from "node:http";
import type { FastifyReply } from "fastify";
import { BatonControlError } from "../errors.js";

/** What one stream may have written but not yet taken by its client: a few ticks. */
const MAX_BUFFERED_BYTES = 512 * 1024;

export interface DashboardEventsOptions {
  /** What each `tick` event carries; computed once per tick for every stream. */
  snapshot: () => Promise<unknown>;
  /** Streams open at once at most (default 16); more are refused with 429. */
  maxStreams?: number;
  /** Streams one session (or the bearer token) may hold (default 4): one client cannot take all. */
  maxPerOwner?: number;
  intervalMs?: number;
  /** A comment line this often, so that proxies and browsers see a live connection (default 15 s). */
  heartbeatMs?: number;
  log?: (line: string) => void;
}

/**
 * The dashboard's live updates over server-sent events: one `tick` event per interval to every open
 * stream, from one snapshot (the status and the router's stats are read once, not once per
 * browser). The timer runs only while a stream is open; a closed connection leaves at once.
 */
export class DashboardEvents {
  private readonly streams = new Set<ServerResponse>();
  /** How a cookie-authenticated stream's session is asked again (a bearer's stream has none). */
  private readonly admitted = new Map<ServerResponse, () => Promise<boolean>>();
  private readonly owners = new Map<ServerResponse, string>();
  private readonly maxPerOwner: number;
  private readonly maxStreams: number;
  private readonly intervalMs: number;
  private readonly heartbeatMs: number;
  private timer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private busy = false;
  private seq = 0;

  constructor(private readonly opts: DashboardEventsOptions) {
    this.maxStreams = opts.maxStreams ?? 16;
    this.maxPerOwner = opts.maxPerOwner ?? 4;
    this.intervalMs = opts.intervalMs ?? 1000;
    this.heartbeatMs = opts.heartbeatMs ?? 15_000;
  }

  get open(): number {
    return this.streams.size;
  }

  /**
   * Takes over the reply and keeps it as a stream until the client goes or `close()`.
   * `stillAdmitted`: asked again at each heartbeat and by `revalidate()`; a stream whose session
   * has ended (logout, eviction, expiry) is ended, and the browser's reconnect then gets its 401.
   */
  attach(reply: FastifyReply, who: { owner: string; stillAdmitted?: () => Promise<boolean> }): void {
    const mine = [...this.owners.values()].filter((o) => o === who.owner).length;
    if (mine >= this.maxPerOwner)
      throw new BatonControlError(
        "BATON_TOO_MANY_STREAMS",
        `this session already has ${mine} live-update streams open, the most one session may: close a dashboard tab`,
      );
    if (this.streams.size >= this.maxStreams)
      throw new BatonControlError(
        "BATON_TOO_MANY_STREAMS",
        `${this.streams.size} event streams are open, the most this API allows; close a dashboard tab`,
      );
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      connection: "keep-alive",
    });
    // The browser reconnects after 2 s when the connection drops (a control plane restarting).
    res.write("retry: 2000\n\n");
    res.socket?.setNoDelay(true);
    this.streams.add(res);
    this.owners.set(res, who.owner);
    if (who.stillAdmitted) this.admitted.set(res, who.stillAdmitted);
    const leave = () => this.leave(res);
    res.once("close", leave);
    res.once("error", leave);
    this.start();
    void this.tick();
  }

  /** Ends every stream (the API is closing: they would never end by themselves). */
  close(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
    this.admitted.clear();
    this.owners.clear();
    this.stop();
  }

  /**
   * Asks each cookie-authenticated stream's session again and ends the streams of sessions that
   * are gone. A lookup that fails (the database is away) keeps the stream: it was admitted, it only
   * reads, and the next check decides.
   */
  async revalidate(): Promise<void> {
    await Promise.all(
      [...this.admitted].map(async ([res, stillAdmitted]) => {
        if ((await stillAdmitted().catch(() => true)) === false) {
          res.end();
          this.leave(res);
        }
      }),
    );
  }

  private leave(res: ServerResponse): void {
    this.streams.delete(res);
    this.admitted.delete(res);
    this.owners.delete(res);
    if (this.streams.size === 0) this.stop();
  }

  private start(): void {
    this.timer ??= setInterval(() => void this.tick(), this.intervalMs);
    this.heartbeat ??= setInterval(() => {
      this.send(": heartbeat\n\n");
      void this.revalidate();
    }, this.heartbeatMs);
  }

  private stop(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    this.timer = undefined;
    this.heartbeat = undefined;
  }

  private async tick(): Promise<void> {
    // A slow database must not pile snapshots up: a tick still running skips the next.
    if (this.busy || this.streams.size === 0) return;
    this.busy = true;
    try {
      const data = await this.opts.snapshot();
      this.send(`id: ${++this.seq}\nevent: tick\ndata: ${JSON.stringify(data)}\n\n`);
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      this.opts.log?.(`dashboard events: the snapshot failed: ${message}`);
      this.send(`event: problem\ndata: ${JSON.stringify({ message })}\n\n`);
    } finally {
      this.busy = false;
    }
  }

  private send(text: string): void {
    for (const res of this.streams) {
      if (res.writableEnded) continue;
      // A client that does not read (stalled, or on purpose) would make the server buffer every
      // tick for it without end: past a bound it is dropped; a browser that is merely slow
      // reconnects and starts again from the latest tick.
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        this.leave(res);
        continue;
      }
      res.write(text);
    }
  }
}
