import type { IncomingMessage, ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { appendStickyCookie } from "./append-sticky-cookie.js";
import type { GuardedExchange } from "./client-guard.js";
import { connectionTokens, isResponseHopHeader, responseCodings, stripNamed } from "./hop-headers.js";
import type { Instance } from "./instance.js";
import type { Logger } from "./logger.js";
import { plainResponse } from "./plain-response.js";
import { bufferBody } from "./request-body.js";
import type { RequestHead } from "./request-head.js";
import type { ParsedHead } from "./response-parser.js";
import type { Service } from "./service.js";
import type { StickyKey } from "./sticky-key.js";
import type { Track } from "./track.js";
import type { UpstreamConnection, UpstreamHandler } from "./upstream-connection.js";
import { QUEUE_FULL, QUEUE_TIMEOUT } from "./upstream-pool.js";

/** Methods that may be sent twice without changing the outcome (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

const TIMEOUTS = new Set(["UPSTREAM_RESPONSE_TIMEOUT", "UPSTREAM_BODY_TIMEOUT"]);
/** The instance's pool had no connection to give: it is busy, not broken. */
const BUSY = new Set([QUEUE_FULL, QUEUE_TIMEOUT]);
const CONTENT_LENGTH = new Set(["content-length"]);

/** One proxied request, across its retries. */
export class Exchange implements UpstreamHandler, GuardedExchange {
  private readonly started = performance.now();
  private readonly idempotent: boolean;
  private readonly hasBody: boolean;
  private readonly headers: string[];
  private readonly client: string;
  /** Body bytes already read from the client, and the part of the body not read yet. */
  private prefix: Buffer[] | null = null;
  private stream: IncomingMessage | Readable | null;
  private bodyLength: number;
  /** Set while the first bytes of the body are read before any connection is taken. */
  private stopBuffering: (() => void) | undefined;
  private instance: Instance | undefined;
  private conn: UpstreamConnection | undefined;
  private tried: Set<Instance> | undefined;
  private attempts = 0;
  private headersSent = false;
  private status = 0;
  private finished = false;
  private clientGone = false;
  private waitingDrain = false;
  /** Response body bytes handed to the client's socket. */
  private sentBytes = 0;
  guardWindowStart = 0;
  guardMark = 0;

  constructor(
    private readonly log: Logger,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly service: Service,
    private track: Track,
    head: RequestHead,
    private readonly sticky: StickyKey,
    private readonly override: string | undefined,
    /** The client address whose slot this exchange holds (see ClientGuard). */
    private address: string | undefined,
  ) {
    this.idempotent = IDEMPOTENT.has(req.method!);
    this.headers = head.forward;
    this.client = head.clientAddress;
    this.hasBody = head.chunked || head.contentLength > 0;
    this.stream = this.hasBody ? req : null;
    this.bodyLength = head.chunked ? -1 : head.contentLength;
    res.on("close", this.onClientClose);
  }

  /**
   * Reads up to `requestBuffer` bytes of the body before choosing an instance: a small body then
   * goes upstream in one piece, and a client trickling it never holds a pooled connection.
   */
  start(): void {
    if (this.stream === null) return this.begin();
    this.service.clients.watch(this);
    const limit = this.service.config.clients.requestBuffer;
    if (limit === 0) return this.begin();
    this.stopBuffering = bufferBody(this.req, limit, (body) => {
      this.stopBuffering = undefined;
      this.prefix = body.chunks;
      if (body.complete) {
        // Known in full now: sent with its length, even if the client sent it chunked.
        this.stream = null;
        this.bodyLength = body.length;
      }
      this.begin();
    });
  }

  private begin(): void {
    const inst = this.track.pick(this.tried);
    if (inst) this.send(inst);
    else this.pause();
  }

  /** No ready instance in the track: wait (bounded) for one, instead of failing at once. */
  private pause(): void {
    const { timeout, maxWaiting } = this.service.config.pause;
    const trackName = this.track.name;
    this.track.stats.paused++;
    const queued = this.service.pauseQueue.add(trackName, timeout, maxWaiting, (retry) => {
      if (this.clientGone) return this.done();
      const table = this.service.table;
      this.track = table.byName.get(trackName) ?? this.service.chooseTrack(this.sticky, this.override);
      if (retry && this.track.ready.length > 0) {
        this.tried = undefined;
        return this.begin();
      }
      this.track.stats.pauseTimeouts++;
      this.fail(503, `no healthy instance of track "${trackName}" (waited ${timeout}ms)\n`);
    });
    if (!queued) this.fail(503, `no healthy instance of track "${trackName}"\n`);
  }

  private send(inst: Instance): void {
    this.instance = inst;
    this.conn = undefined;
    this.attempts++;
    inst.inflight++;
    inst.upstream.request(
      {
        method: this.req.method!,
        path: this.req.url!,
        headers: this.headers,
        prefix: this.prefix,
        body: this.stream,
        bodyLength: this.bodyLength,
      },
      this,
    );
  }

  // ---- upstream handler --------------------------------------------------------------------

  onWrite(conn: UpstreamConnection): boolean {
    if (this.clientGone) {
      this.release();
      this.done();
      return false;
    }
    this.conn = conn;
    return true;
  }

  onHead(head: ParsedHead): void {
    this.status = head.status;
    const raw = head.headers;
    const out: string[] = [];
    let connectionValue: string | undefined;
    let codings: string | undefined;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (isResponseHopHeader(lower)) {
        if (lower === "connection") connectionValue = raw[i + 1];
        else if (lower === "transfer-encoding")
          codings = codings === undefined ? raw[i + 1]! : `${codings}, ${raw[i + 1]!}`;
        continue;
      }
      out.push(name, raw[i + 1]!);
    }
    if (connectionValue !== undefined) {
      const extra = connectionTokens(connectionValue);
      if (extra) stripNamed(extra, out);
    }
    if (codings !== undefined) {
      // With both headers the body was framed by Transfer-Encoding (RFC 9112 6.3): the length lies.
      stripNamed(CONTENT_LENGTH, out);
      const keep = head.status === 204 || head.status === 304 ? undefined : responseCodings(codings);
      if (keep) out.push("transfer-encoding", keep);
    }
    out.push("x-baton-version", this.track.version);
    if (this.sticky.setCookie !== undefined) appendStickyCookie(out, this.sticky.setCookie);
    this.headersSent = true;
    this.res.writeHead(head.status, out);
  }

  onBody(chunk: Buffer): boolean {
    if (this.waitingDrain) {
      // Bytes parsed from data that arrived before the connection was paused.
      this.sentBytes += chunk.length;
      this.res.write(chunk);
      return false;
    }
    this.sentBytes += chunk.length;
    if (this.res.write(chunk)) return true;
    // The client reads slower than the instance writes. Up to `responseBuffer` bytes wait here,
    // so a small or medium response completes upstream at once and its pooled connection goes
    // back to the pool instead of following the slow reader's pace; past that, the instance is
    // paused (and the client must keep up the minimum rate, see ClientGuard).
    this.service.clients.watch(this);
    if (this.res.writableLength <= this.service.config.clients.responseBuffer) return true;
    this.waitingDrain = true;
    this.res.once("drain", this.onDrain);
    return false;
  }

  private readonly onDrain = (): void => {
    this.waitingDrain = false;
    this.conn?.resume();
  };

  onEnd(): void {
    if (this.waitingDrain) this.res.off("drain", this.onDrain);
    this.res.end();
    this.settle(this.status >= 500 ? `HTTP ${this.status}` : undefined);
    this.done();
  }

  onError(err: Error & { code?: string }, written: boolean): void {
    const inst = this.instance!;
    const code = err.code ?? "";
    if (this.clientGone || code === "BATON_CLIENT_BODY_ABORTED") {
      this.clientGone = true;
      this.release();
      return this.done();
    }
    if (BUSY.has(code)) return this.busy(inst, err.message);
    if (!written) {
      inst.metrics.connectFailures++;
      this.track.stats.window.recordConnectFailure(performance.timeOrigin + performance.now());
    }
    inst.requestFailed(`${code || err.name}: ${err.message}`);
    this.release();
    if (this.headersSent) {
      // Part of the answer is already with the client; cutting the connection is the honest signal.
      this.status = 502;
      this.record(true);
      this.res.destroy(err);
      return this.done();
    }
    // Never sent: nothing reached the application, any method may go elsewhere. Sent: only an
    // idempotent request without a body may be replayed; anything else could happen twice.
    const retryable = !written || (this.idempotent && !this.hasBody);
    if (retryable && this.attempts <= this.service.config.retries.attempts) {
      (this.tried ??= new Set()).add(inst);
      inst.metrics.retries++;
      const next = this.track.pick(this.tried);
      if (next) return this.send(next);
      // No instance of the track is ready any more (the failures took them out): wait for one.
      if (this.track.ready.length === 0) return this.pause();
    }
    const timedOut = TIMEOUTS.has(code);
    this.log.warn(
      {
        service: this.service.name,
        track: this.track.name,
        instance: inst.key,
        code,
        method: this.req.method,
        written,
        retried: this.attempts - 1,
      },
      "upstream request failed",
    );
    this.fail(
      timedOut ? 504 : 502,
      timedOut ? "upstream timed out\n" : `upstream failed: ${code || err.message}\n`,
    );
  }

  /**
   * The instance had no connection to spare (queue full, or waited too long): not a failure of
   * the instance, so no passive ejection; another instance of the track may have room.
   */
  private busy(inst: Instance, why: string): void {
    this.release();
    (this.tried ??= new Set()).add(inst);
    const next =
      this.attempts <= this.service.config.retries.attempts ? this.track.pick(this.tried) : undefined;
    if (next) return this.send(next);
    this.fail(503, `instance ${inst.key} is busy: ${why}\n`);
  }

  // ---- slow clients (ClientGuard) ------------------------------------------------------------

  waitingOnClient(): boolean {
    if (!this.req.complete) {
      // Reading the body: before any connection, or streaming it while the instance keeps up.
      if (this.stopBuffering) return true;
      const conn = this.conn;
      if (conn !== undefined && !conn.bodyBlocked && !this.headersSent) return true;
    }
    // Response bytes the client has not taken yet.
    return this.headersSent && this.res.writableLength > 0;
  }

  clientProgress(): number {
    return (this.req.socket?.bytesRead ?? 0) + this.sentBytes - this.res.writableLength;
  }

  cutSlowClient(): void {
    const cfg = this.service.config.clients;
    this.log.debug(
      { service: this.service.name, client: this.client, url: this.req.url },
      `client moved under ${cfg.minBytes} bytes in ${cfg.minBytesWindow}ms; cut`,
    );
    if (this.finished) return this.reset();
    this.clientGone = true;
    this.stopBuffering?.();
    this.stopBuffering = undefined;
    const conn = this.conn;
    if (conn) {
      this.conn = undefined;
      conn.abort();
      this.release();
    }
    if (this.headersSent) {
      this.done();
      return this.reset();
    }
    this.status = 408;
    this.record(false);
    this.done();
    plainResponse(this.res, 408, this.track.version, "request body arrived too slowly\n", true);
  }

  /**
   * Drops the client's connection with a reset: a plain close would queue the FIN behind the
   * megabytes still in the kernel's send buffer, which the slow client would take ages to read.
   */
  private reset(): void {
    const socket = this.res.socket;
    if (socket && !socket.destroyed) socket.resetAndDestroy();
    else this.res.destroy();
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private fail(status: number, message: string): void {
    this.status = status;
    this.record(true);
    plainResponse(this.res, status, this.track.version, message);
    this.done();
  }

  private release(): void {
    this.conn = undefined;
    const inst = this.instance!;
    inst.inflight--;
    inst.released();
  }

  /** A response came back from the instance (whatever its status). */
  private settle(failure: string | undefined): void {
    const inst = this.instance!;
    if (failure) inst.requestFailed(failure);
    else inst.requestSucceeded();
    this.record(this.status >= 500);
    this.release();
  }

  private record(is5xx: boolean): void {
    const now = performance.now();
    const us = (now - this.started) * 1000;
    const stats = this.track.stats;
    stats.requests++;
    if (is5xx) stats.errors5xx++;
    stats.window.record(performance.timeOrigin + now, us, is5xx);
    this.instance?.metrics.record(us, is5xx, this.status);
  }

  /** The upstream side is over; the client may still be reading what the router buffered. */
  private done(): void {
    this.finished = true;
  }

  /** The response is complete or the client went away: the last thing an exchange hears. */
  private readonly onClientClose = (): void => {
    this.service.clients.unwatch(this);
    if (this.address !== undefined) {
      this.service.clients.release(this.address);
      this.address = undefined;
    }
    if (this.finished) return;
    this.clientGone = true;
    if (this.stopBuffering) {
      this.stopBuffering();
      this.stopBuffering = undefined;
      return this.done();
    }
    // Mid-exchange: the upstream connection cannot be reused, and the request must not go on.
    if (this.conn) {
      const conn = this.conn;
      this.conn = undefined;
      conn.abort();
      this.release();
      this.done();
    }
  };
}
