import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { ServiceResolver } from "./http-proxy.js";
import type { Instance, WebSocketSession } from "./instance.js";
import type { Logger } from "./logger.js";
import { rejectUpgrade } from "./reject-upgrade.js";
import { readRequestHead } from "./request-head.js";
import { stickyKeyOf } from "./sticky-key.js";
import type { Track } from "./track.js";
import type { TrustedProxies } from "./trusted-proxies.js";
import { checkUpgrade, isRefusal } from "./upgrade-request.js";

/** The largest refusal body relayed from an instance; a larger one is replaced by the router's own words. */
const MAX_RELAYED_REFUSAL = 8 * 1024;

import { WebSocketBudget } from "./websocket-budget.js";

/**
 * Handshake headers that the upstream connection makes for itself (`expect` too: it would make
 * Node write the request head before the target is set, and means nothing on an upgrade).
 */
const OWN_HANDSHAKE = new Set([
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "expect",
]);
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;
/** How long a session shed for the buffer cap gets for its close frames before its sockets go. */
const SHED_GRACE_MS = 250;

export interface WebSocketLimits {
  /** Largest message (all its frames) either leg may send; larger: closed with 1009. */
  maxMessageBytes: number;
  /** Bytes all sessions may hold in the router together; the session that goes over: 1013. */
  maxBufferedBytes: number;
}

/** One client's upgrade, carried across connection attempts to the track's instances. */
interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  track: Track;
  target: string;
  headers: Record<string, string>;
  protocols: string[];
  tried: Set<Instance>;
  retriesLeft: number;
  connectTimeout: number;
  /** What went wrong with the last instance tried, for the 502 when none is left. */
  lastFailure?: string;
}

/**
 * Proxies WebSocket upgrades. Both legs are real WebSocket endpoints (the `ws` library), so the
 * router knows frame boundaries and can close a session cleanly with 1001 when a drain times out.
 * The client is accepted only after the upstream accepted, with the sub-protocol it chose.
 * Whatever goes wrong with one upgrade or session is answered or closed there: it never throws
 * out of an event handler (which would end the process).
 */
export class WebSocketProxy {
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  /** A sticky key assigned to the upgrade, sent in the 101 like on any HTTP response. */
  private readonly assignedCookie = new WeakMap<IncomingMessage, string>();
  /** The version whose instance accepted the upgrade, for the 101's x-baton-version. */
  private readonly answeredBy = new WeakMap<IncomingMessage, string>();
  private readonly wss: WebSocketServer;
  private readonly budget: WebSocketBudget;

  constructor(
    private readonly resolve: ServiceResolver,
    private readonly log: Logger,
    private readonly trust: TrustedProxies,
    private readonly limits: WebSocketLimits = {
      maxMessageBytes: 1024 * 1024,
      maxBufferedBytes: 64 * 1024 * 1024,
    },
  ) {
    this.budget = new WebSocketBudget(limits.maxBufferedBytes);
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: limits.maxMessageBytes,
      clientTracking: false,
      handleProtocols: (_protocols, req) => this.chosenProtocol.get(req) ?? false,
    });
    this.wss.on("headers", (headers: string[], req: IncomingMessage) => {
      const cookie = this.assignedCookie.get(req);
      if (cookie !== undefined) headers.push(`Set-Cookie: ${cookie}`);
      // Like every response the router forwards, the 101 says which version answered.
      const version = this.answeredBy.get(req);
      if (version !== undefined) headers.push(`x-baton-version: ${version}`);
    });
  }

  /** Bytes all proxied WebSockets hold in the router now (counted against the buffer cap). */
  get bufferedBytes(): number {
    return this.budget.used;
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    try {
      this.begin(req, socket, head);
    } catch (err) {
      this.crashed(err, req, "WebSocket upgrade");
      rejectUpgrade(socket, 500, "the router failed on this WebSocket upgrade (logged)");
    }
  };

  private begin(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Checked before dialling the instance: a handshake that the upstream client or the `ws`
    // server would refuse (or throw on) must not leave an upstream WebSocket open behind it.
    const checked = checkUpgrade(req);
    if (isRefusal(checked)) return rejectUpgrade(socket, checked.status, checked.reason);
    const service = this.resolve(req);
    if (!service) return rejectUpgrade(socket, 404, "no service for this host");
    const cfg = service.config;
    const h = readRequestHead(req, cfg.stickiness.header, this.trust);
    const headers: Record<string, string> = {};
    for (let i = 0; i < h.forward.length; i += 2) {
      const name = h.forward[i]!.toLowerCase();
      if (!OWN_HANDSHAKE.has(name)) headers[name] = h.forward[i + 1]!;
    }
    const sticky = stickyKeyOf(h, cfg.stickiness, service.table.splits);
    if (sticky.setCookie !== undefined) this.assignedCookie.set(req, sticky.setCookie);
    this.connect({
      req,
      socket,
      head,
      track: service.chooseTrack(sticky, service.permittedOverride(h)),
      target: checked.target,
      headers,
      protocols: checked.protocols,
      tried: new Set(),
      retriesLeft: cfg.retries.attempts,
      connectTimeout: cfg.timeouts.connect,
    });
  }

  private connect(up: Upgrade): void {
    const { req, socket, head, track } = up;
    const inst = track.pick(up.tried);
    if (!inst) {
      if (up.lastFailure) {
        return rejectUpgrade(socket, 502, `upstream WebSocket failed: ${up.lastFailure}`, track.version);
      }
      return rejectUpgrade(socket, 503, `no healthy instance of track "${track.name}"`, track.version);
    }
    let upstream: WebSocket;
    try {
      upstream = new WebSocket(`ws://${inst.key}/`, up.protocols, {
        headers: up.headers,
        perMessageDeflate: false,
        handshakeTimeout: up.connectTimeout,
        followRedirects: false,
        maxPayload: this.limits.maxMessageBytes,
        // The client's target, byte for byte: a URL object would normalise it (dot segments,
        // percent-encoding), and the instance must see what the client sent, as for HTTP.
        finishRequest: (creq) => {
          creq.path = up.target;
          creq.end();
        },
      });
    } catch (err) {
      this.crashed(err, req, "WebSocket connect");
      return rejectUpgrade(socket, 502, `cannot open the upstream WebSocket: ${(err as Error).message}`);
    }
    let answered = false;
    let upstreamSocket: Duplex | undefined;
    upstream.on("upgrade", (res) => {
      upstreamSocket = res.socket;
    });
    upstream.on("unexpected-response", (_ureq, ures) => {
      answered = true; // answered: not a connection failure
      const status = ures.statusCode ?? 0;
      // The application's own refusal (401, 403, 404, 426...) is relayed with its body (which may
      // say what it accepts, e.g. the protocols it speaks), bounded in size and time; anything
      // that is not an error status cannot be relayed as the answer to an upgrade.
      const relayed = status >= 400 && status <= 599 ? status : 502;
      const message = `upstream ${inst.key} refused the WebSocket upgrade: HTTP ${status || "(no status)"}`;
      const chunks: Buffer[] = [];
      let size = 0;
      let sent = false;
      const send = (whole: boolean) => {
        if (sent) return;
        sent = true;
        clearTimeout(timer);
        upstream.terminate();
        const contentType = String(ures.headers["content-type"] ?? "");
        const body = Buffer.concat(chunks);
        rejectUpgrade(
          socket,
          relayed,
          message,
          track.version,
          whole && relayed === status && body.length > 0 ? { contentType, body } : undefined,
        );
      };
      const timer = setTimeout(() => send(false), 1000);
      ures.on("data", (d: Buffer) => {
        size += d.length;
        if (size > MAX_RELAYED_REFUSAL) return send(false);
        chunks.push(d);
      });
      ures.on("end", () => send(true));
      ures.on("error", () => send(false));
    });
    upstream.on("error", (err: Error & { code?: string }) => {
      if (answered) return;
      answered = true;
      try {
        const what = err.code ?? err.message;
        inst.metrics.connectFailures++;
        inst.requestFailed(`websocket connect: ${what}`);
        const failure = `${inst.key}: ${what} (${up.tried.size + 1} instance${up.tried.size ? "s" : ""} tried)`;
        if (up.retriesLeft > 0 && !socket.destroyed) {
          up.tried.add(inst);
          return this.connect({ ...up, retriesLeft: up.retriesLeft - 1, lastFailure: failure });
        }
        rejectUpgrade(socket, 502, `upstream WebSocket failed: ${failure}`, track.version);
      } catch (e) {
        this.crashed(e, req, "WebSocket connect retry");
        rejectUpgrade(socket, 502, "upstream WebSocket failed (logged)");
      }
    });
    upstream.on("open", () => {
      answered = true;
      if (socket.destroyed) return upstream.terminate();
      let relayed = false;
      try {
        upstream.pause(); // hold its first messages until the client leg exists
        if (upstream.protocol) this.chosenProtocol.set(req, upstream.protocol);
        this.answeredBy.set(req, track.version);
        this.wss.handleUpgrade(req, socket, head, (client) => {
          relayed = true;
          this.relay(client, socket, upstream, upstreamSocket, inst, track);
        });
      } catch (err) {
        this.crashed(err, req, "WebSocket accept");
        if (relayed) socket.destroy();
        else rejectUpgrade(socket, 500, "the router failed on this WebSocket upgrade (logged)");
      }
      // `ws` answers synchronously; if it refused the client, the upstream leg has no partner.
      if (!relayed) upstream.terminate();
    });
  }

  private relay(
    client: WebSocket,
    clientSocket: Duplex,
    upstream: WebSocket,
    upstreamSocket: Duplex | undefined,
    inst: Instance,
    track: Track,
  ): void {
    let ended = false;
    const session: WebSocketSession = {
      close(code, reason) {
        client.close(code, reason);
        upstream.close(code, reason);
      },
    };
    const share = this.budget.share([client, upstream], () => {
      this.log.warn(
        {
          instance: inst.key,
          track: track.name,
          bufferedBytes: this.budget.used,
          cap: this.limits.maxBufferedBytes,
        },
        "WebSocket closed with 1013: all sessions together hold more than limits.websocketMaxBufferedBytes",
      );
      client.close(1013, "router WebSocket buffers are full; try again later");
      upstream.close(1001, "client shed by the router (buffers full)");
      clientSocket.pause(); // read no more of what it sends: its buffer must stop growing
      upstreamSocket?.pause();
      setTimeout(() => {
        client.terminate();
        upstream.terminate();
      }, SHED_GRACE_MS).unref();
    });
    inst.websockets.add(session);
    inst.metrics.websocketsTotal++;
    track.stats.websocketsOpen++;
    track.stats.websocketsTotal++;
    const end = () => {
      if (ended) return;
      ended = true;
      share.release();
      inst.websockets.delete(session);
      track.stats.websocketsOpen--;
      inst.released();
    };
    const failed = (err: unknown) => {
      this.crashed(err, undefined, "WebSocket relay");
      client.terminate();
      upstream.terminate();
    };
    // After `ws`'s own listeners: each chunk is measured once the receiver has taken it in.
    const measure = () => share.update();
    clientSocket.on("data", measure);
    upstreamSocket?.on("data", measure);
    pipeMessages(client, upstream, measure, failed);
    pipeMessages(upstream, client, measure, failed);
    client.on("close", (code, reason) => {
      end();
      closePeer(upstream, code, reason, failed);
    });
    upstream.on("close", (code, reason) => {
      end();
      closePeer(client, code, reason, failed);
    });
    client.on("error", (err) => this.log.debug({ err: err.message }, "client websocket error"));
    upstream.on("error", (err) => this.log.debug({ err: err.message }, "upstream websocket error"));
    upstream.resume();
  }

  private crashed(err: unknown, req: IncomingMessage | undefined, what: string): void {
    this.log.error(
      { err: err instanceof Error ? err.stack : String(err), target: req?.url, method: req?.method },
      `${what} failed; that exchange was refused, the router carries on`,
    );
  }
}

function pipeMessages(
  from: WebSocket,
  to: WebSocket,
  measure: () => void,
  failed: (err: unknown) => void,
): void {
  from.on("message", (data: RawData, isBinary: boolean) => {
    try {
      if (to.readyState !== WebSocket.OPEN) return;
      to.send(data, { binary: isBinary }, () => {
        if (from.isPaused && to.bufferedAmount < LOW_WATER) from.resume();
        measure();
      });
      if (to.bufferedAmount > HIGH_WATER) from.pause();
      measure();
    } catch (err) {
      failed(err);
    }
  });
}

/** Passes a close on to the other leg; 1005/1006 cannot be sent in a frame, so they are mapped. */
function closePeer(peer: WebSocket, code: number, reason: Buffer, failed: (err: unknown) => void): void {
  if (peer.readyState === WebSocket.CLOSED || peer.readyState === WebSocket.CLOSING) return;
  try {
    if (code === 1005) peer.close();
    else if (code === 1006 || code === 1015) peer.close(1001, "peer went away");
    else peer.close(code, reason);
  } catch (err) {
    failed(err);
  }
}
