import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import type { ServiceResolver } from "./http-proxy.js";
import type { Instance, WebSocketSession } from "./instance.js";
import type { Logger } from "./logger.js";
import { readRequestHead, stickyKeyOf } from "./request-head.js";
import type { Track } from "./track.js";

/** Handshake headers that the upstream connection makes for itself. */
const OWN_HANDSHAKE = new Set([
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
]);
const HIGH_WATER = 4 * 1024 * 1024;

/** One client's upgrade, carried across connection attempts to the track's instances. */
interface Upgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  track: Track;
  headers: Record<string, string>;
  protocols: string[];
  tried: Set<Instance>;
  retriesLeft: number;
  connectTimeout: number;
}
const LOW_WATER = 1024 * 1024;

/**
 * Proxies WebSocket upgrades. Both legs are real WebSocket endpoints (the `ws` library), so the
 * router knows frame boundaries and can close a session cleanly with 1001 when a drain times out.
 * The client is accepted only after the upstream accepted, with the sub-protocol it chose.
 */
export class WebSocketProxy {
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly wss: WebSocketServer;

  constructor(
    private readonly resolve: ServiceResolver,
    private readonly log: Logger,
    private readonly maxPayload = 64 * 1024 * 1024,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload,
      clientTracking: false,
      handleProtocols: (_protocols, req) => this.chosenProtocol.get(req) ?? false,
    });
  }

  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
      return rejectSocket(socket, 400, "only WebSocket upgrades are proxied");
    }
    // Checked before dialling the instance: a handshake `ws` would refuse must not leave an
    // upstream WebSocket open behind it.
    const key = req.headers["sec-websocket-key"];
    if (!key || !/^[+/0-9A-Za-z]{22}==$/.test(key) || req.headers["sec-websocket-version"] !== "13") {
      return rejectSocket(
        socket,
        400,
        "invalid WebSocket handshake (Sec-WebSocket-Key / Sec-WebSocket-Version)",
      );
    }
    const service = this.resolve(req);
    if (!service) return rejectSocket(socket, 404, "no service for this host");
    const cfg = service.config;
    const h = readRequestHead(req, cfg.stickiness.header);
    const headers: Record<string, string> = {};
    for (let i = 0; i < h.forward.length; i += 2) {
      const name = h.forward[i]!.toLowerCase();
      if (!OWN_HANDSHAKE.has(name)) headers[name] = h.forward[i + 1]!;
    }
    const protocols = (req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean);
    this.connect({
      req,
      socket,
      head,
      track: service.chooseTrack(stickyKeyOf(h, cfg.stickiness.cookie, req), h.trackOverride),
      headers,
      protocols,
      tried: new Set(),
      retriesLeft: cfg.retries.attempts,
      connectTimeout: cfg.timeouts.connect,
    });
  };

  private connect(up: Upgrade): void {
    const { req, socket, head, track } = up;
    const inst = track.pick(up.tried);
    if (!inst)
      return rejectSocket(socket, 503, `no healthy instance of track "${track.name}"`, track.version);
    const upstream = new WebSocket(`ws://${inst.key}${req.url ?? "/"}`, up.protocols, {
      headers: up.headers,
      perMessageDeflate: false,
      handshakeTimeout: up.connectTimeout,
      followRedirects: false,
      maxPayload: this.maxPayload,
    });
    let opened = false;
    upstream.on("unexpected-response", (_ureq, ures) => {
      opened = true; // answered: not a connection failure
      rejectSocket(
        socket,
        ures.statusCode ?? 502,
        `upstream refused the upgrade (${ures.statusCode})`,
        track.version,
      );
      ures.resume();
      upstream.terminate();
    });
    upstream.on("error", (err: Error & { code?: string }) => {
      if (opened) return;
      inst.metrics.connectFailures++;
      inst.requestFailed(`websocket connect: ${err.code ?? err.message}`);
      if (up.retriesLeft > 0 && !socket.destroyed) {
        up.tried.add(inst);
        return this.connect({ ...up, retriesLeft: up.retriesLeft - 1 });
      }
      rejectSocket(socket, 502, `upstream WebSocket failed: ${err.code ?? err.message}`, track.version);
    });
    upstream.on("open", () => {
      opened = true;
      if (socket.destroyed) return upstream.terminate();
      upstream.pause(); // hold its first messages until the client leg exists
      if (upstream.protocol) this.chosenProtocol.set(req, upstream.protocol);
      this.wss.handleUpgrade(req, socket, head, (client) => this.relay(client, upstream, inst, track));
    });
  }

  private relay(client: WebSocket, upstream: WebSocket, inst: Instance, track: Track): void {
    let ended = false;
    const session: WebSocketSession = {
      close(code, reason) {
        client.close(code, reason);
        upstream.close(code, reason);
      },
    };
    inst.websockets.add(session);
    inst.metrics.websocketsTotal++;
    track.stats.websocketsOpen++;
    track.stats.websocketsTotal++;
    const end = () => {
      if (ended) return;
      ended = true;
      inst.websockets.delete(session);
      track.stats.websocketsOpen--;
      inst.released();
    };
    pipeMessages(client, upstream);
    pipeMessages(upstream, client);
    client.on("close", (code, reason) => {
      closePeer(upstream, code, reason);
      end();
    });
    upstream.on("close", (code, reason) => {
      closePeer(client, code, reason);
      end();
    });
    client.on("error", (err) => this.log.debug({ err: err.message }, "client websocket error"));
    upstream.on("error", (err) => this.log.debug({ err: err.message }, "upstream websocket error"));
    upstream.resume();
  }
}

function pipeMessages(from: WebSocket, to: WebSocket): void {
  from.on("message", (data: RawData, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    to.send(data, { binary: isBinary }, () => {
      if (from.isPaused && to.bufferedAmount < LOW_WATER) from.resume();
    });
    if (to.bufferedAmount > HIGH_WATER) from.pause();
  });
}

/** Passes a close on to the other leg; 1005/1006 cannot be sent in a frame, so they are mapped. */
function closePeer(peer: WebSocket, code: number, reason: Buffer): void {
  if (peer.readyState === WebSocket.CLOSED || peer.readyState === WebSocket.CLOSING) return;
  if (code === 1005) peer.close();
  else if (code === 1006 || code === 1015) peer.close(1001, "peer went away");
  else peer.close(code, reason);
}

function rejectSocket(socket: Duplex, status: number, message: string, version?: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\nconnection: close\r\ncontent-type: text/plain\r\n` +
      (version ? `x-baton-version: ${version}\r\n` : "") +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function statusText(status: number): string {
  return (
    {
      400: "Bad Request",
      403: "Forbidden",
      404: "Not Found",
      502: "Bad Gateway",
      503: "Service Unavailable",
    }[status] ?? "Error"
  );
}
