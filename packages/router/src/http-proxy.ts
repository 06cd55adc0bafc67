import type { IncomingMessage, ServerResponse } from "node:http";
import { connectionTokens, isResponseHopHeader } from "./hop-headers.js";
import type { Instance } from "./instance.js";
import type { Logger } from "./logger.js";
import { readRequestHead, stickyKeyOf } from "./request-head.js";
import type { ParsedHead } from "./response-parser.js";
import type { Service } from "./service.js";
import type { Track } from "./track.js";
import type { UpstreamConnection, UpstreamHandler } from "./upstream-connection.js";

/** Methods that may be sent twice without changing the outcome (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

const TIMEOUTS = new Set(["UPSTREAM_RESPONSE_TIMEOUT", "UPSTREAM_BODY_TIMEOUT"]);

export type ServiceResolver = (req: IncomingMessage) => Service | undefined;

/**
 * Forwards plain HTTP requests. One `Exchange` per request drives undici's dispatcher directly
 * (no promise, no stream wrapper), which is what makes this path fast.
 */
export class HttpProxy {
  constructor(
    private readonly resolve: ServiceResolver,
    readonly log: Logger,
  ) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const service = this.resolve(req);
    if (!service) {
      plainResponse(res, 404, undefined, `no service for host ${JSON.stringify(req.headers.host ?? "")}\n`);
      return;
    }
    if (req.method === "CONNECT") {
      plainResponse(res, 405, undefined, "CONNECT is not supported\n");
      return;
    }
    const cfg = service.config;
    const head = readRequestHead(req, cfg.stickiness.header);
    const key = stickyKeyOf(head, cfg.stickiness.cookie, req);
    const track = service.chooseTrack(key, head.trackOverride);
    new Exchange(
      this,
      req,
      res,
      service,
      track,
      head.forward,
      head.contentLength,
      head.chunked,
      key,
      head.trackOverride,
    ).begin();
  };
}

function plainResponse(res: ServerResponse, status: number, version: string | undefined, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers: Record<string, string | number> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  };
  if (version) headers["x-baton-version"] = version;
  if (status === 503) headers["retry-after"] = "1";
  res.writeHead(status, headers);
  res.end(body);
}

/** One proxied request, across its retries. */
class Exchange implements UpstreamHandler {
  private readonly started = performance.now();
  private readonly idempotent: boolean;
  private readonly body: IncomingMessage | null;
  private readonly bodyLength: number;
  private instance: Instance | undefined;
  private conn: UpstreamConnection | undefined;
  private tried: Set<Instance> | undefined;
  private attempts = 0;
  private headersSent = false;
  private status = 0;
  private finished = false;
  private clientGone = false;
  private waitingDrain = false;

  constructor(
    private readonly proxy: HttpProxy,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly service: Service,
    private track: Track,
    private readonly headers: string[],
    contentLength: number,
    chunked: boolean,
    private readonly stickyKey: string,
    private readonly override: string | undefined,
  ) {
    this.idempotent = IDEMPOTENT.has(req.method!);
    this.body = chunked || contentLength > 0 ? req : null;
    this.bodyLength = chunked ? -1 : contentLength;
    res.on("close", this.onClientClose);
  }

  begin(): void {
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
      this.track = table.byName.get(trackName) ?? this.service.chooseTrack(this.stickyKey, this.override);
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
        body: this.body,
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
    let transferEncoding = false;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      const lower = name.toLowerCase();
      if (isResponseHopHeader(lower)) {
        if (lower === "connection") connectionValue = raw[i + 1];
        if (lower === "transfer-encoding") transferEncoding = true;
        continue;
      }
      out.push(name, raw[i + 1]!);
    }
    // With both headers the body was framed by Transfer-Encoding (RFC 9112 6.3): the length lies.
    if (transferEncoding) stripNamed(new Set(["content-length"]), out);
    if (connectionValue !== undefined) {
      const extra = connectionTokens(connectionValue);
      if (extra) stripNamed(extra, out);
    }
    out.push("x-baton-version", this.track.version);
    this.headersSent = true;
    this.res.writeHead(head.status, out);
  }

  onBody(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
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
    const retryable = !written || (this.idempotent && this.body === null);
    if (retryable && this.attempts <= this.service.config.retries.attempts) {
      (this.tried ??= new Set()).add(inst);
      inst.metrics.retries++;
      const next = this.track.pick(this.tried);
      if (next) return this.send(next);
      // No instance of the track is ready any more (the failures took them out): wait for one.
      if (this.track.ready.length === 0) return this.pause();
    }
    const timedOut = TIMEOUTS.has(code);
    this.proxy.log.warn(
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
    this.instance?.metrics.record(us, is5xx);
  }

  private done(): void {
    this.finished = true;
    this.res.off("close", this.onClientClose);
  }

  private readonly onClientClose = (): void => {
    if (this.finished) return;
    this.clientGone = true;
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

/** Removes the headers a response's `Connection` header names as hop-by-hop. */
function stripNamed(names: Set<string>, out: string[]): void {
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (names.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
}
