import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { Server as NetServer, type Socket } from "node:net";
import { Server as TlsServer } from "node:tls";

/** What was still open when a shutdown was cut short, for its log line and its report. */
export interface OpenWork {
  /** Requests received and not yet answered. */
  requestsInFlight: number;
  /** Those requests by `METHOD path` (query strings left out), with how many of each. */
  requests: Record<string, number>;
  /** The oldest of them, in ms since it arrived. */
  oldestRequestMs: number;
  /** Connections still open (HTTP keep-alive, upgraded, or in flight). */
  sockets: number;
  /** WebSockets of the servers given that have not finished closing. */
  websockets: number;
}

interface InFlight {
  key: string;
  since: number;
}

/** One connection as the drain sees it. */
interface Connection {
  /** Requests on it not yet answered. */
  active: number;
  /** Whether it has carried a request (else it is new: its first request may be on its way). */
  used: boolean;
  /** `bytesRead` when it last fell idle: more than that, and a request is arriving. */
  quietAt: number;
}

/**
 * How long a connection accepted just before the server stopped accepting, with no request yet,
 * has to send its first one (then served with `Connection: close`). Destroying it at once, as
 * Node's `server.close()` does, resets a request that is already on its way.
 */
const NEW_CONNECTION_GRACE_MS = 1000;

/**
 * Follows one server's connections and requests through the server's own 'connection' and
 * 'request' events (nothing of Node's is patched), and drains them: every response from the
 * moment `preferClose()` is called asks its client to reconnect (`Connection: close`); `stop()`
 * stops accepting, closes idle keep-alive connections, and gives a connection with no request yet
 * a moment to send it; a connection that becomes idle afterwards is closed at once.
 */
export class HttpDrain {
  private readonly inFlight = new Map<ServerResponse, InFlight>();
  private readonly connections = new Map<Socket, Connection>();
  private counting = false;
  private closing = false;
  private stoppedAt = 0;
  private sweepSoon: NodeJS.Immediate | undefined;
  private sweepLater: NodeJS.Timeout | undefined;
  /** TLS servers: the TLS socket carries the requests, not the TCP one under it. */
  private readonly connectionEvent: string;
  /** Responses finished since `countFromNow()`: what the service served while it shut down. */
  served = 0;

  constructor(private readonly server: Server) {
    this.connectionEvent = server instanceof TlsServer ? "secureConnection" : "connection";
    // First in line, so that the header is set before the application can send its own.
    server.prependListener("request", this.onRequest);
    server.on(this.connectionEvent, this.onConnection);
  }

  /** Counts the responses that finish from now on (the shutdown began). */
  countFromNow(): void {
    this.counting = true;
  }

  /** From now on every response carries `Connection: close`: clients move on one by one. */
  preferClose(): void {
    this.closing = true;
    for (const res of this.inFlight.keys()) askToClose(res);
  }

  /**
   * Stops accepting connections and closes the idle ones. Resolves when every connection of the
   * server is gone (the server's 'close' event): responses finished, WebSockets closed.
   */
  stop(): Promise<void> {
    this.preferClose();
    this.stoppedAt = Date.now();
    const closed = new Promise<void>((resolve) => {
      // net.Server's own close: it stops accepting and leaves the connections to us. http.Server's
      // would also destroy every connection without a request in progress, new ones included.
      NetServer.prototype.close.call(this.server, (err?: Error) => {
        if (!err) return resolve();
        // Closed before (by the application): wait for its connections ourselves.
        const poll = () =>
          this.server.getConnections((_e, n) => (n === 0 ? resolve() : setTimeout(poll, 50).unref()));
        poll();
      });
    });
    this.sweep();
    return closed;
  }

  /** Ends every connection still open (the drain deadline passed). */
  destroyAll(): void {
    clearTimeout(this.sweepLater);
    this.server.closeAllConnections();
    // Upgraded sockets are no longer the HTTP server's to close.
    for (const s of this.connections.keys()) s.destroy();
  }

  /** What is still open now (`websockets` is filled in by the caller, which knows them). */
  open(): OpenWork {
    const requests: Record<string, number> = {};
    let oldest = Date.now();
    for (const r of this.inFlight.values()) {
      requests[r.key] = (requests[r.key] ?? 0) + 1;
      oldest = Math.min(oldest, r.since);
    }
    return {
      requestsInFlight: this.inFlight.size,
      requests,
      oldestRequestMs: this.inFlight.size > 0 ? Date.now() - oldest : 0,
      sockets: this.connections.size,
      websockets: 0,
    };
  }

  /** Stops following the server (the shutdown handle was disposed). */
  dispose(): void {
    this.server.off("request", this.onRequest);
    this.server.off(this.connectionEvent, this.onConnection);
    clearImmediate(this.sweepSoon);
    clearTimeout(this.sweepLater);
  }

  /**
   * After the stop: closes each connection that is idle (nothing in flight, nothing arriving),
   * at once if it has served requests, after the grace if it has not carried one yet.
   * Upgraded connections are left to the WebSocket drain.
   */
  private sweep(): void {
    const now = Date.now();
    let wait = Number.POSITIVE_INFINITY;
    for (const [socket, c] of this.connections) {
      if (c.active > 0 || socket.bytesRead !== c.quietAt) continue;
      const left = c.used ? 0 : this.stoppedAt + NEW_CONNECTION_GRACE_MS - now;
      if (left <= 0) socket.destroy();
      else wait = Math.min(wait, left);
    }
    clearTimeout(this.sweepLater);
    if (wait !== Number.POSITIVE_INFINITY) this.sweepLater = setTimeout(() => this.sweep(), wait);
  }

  private track(socket: Socket): Connection {
    const c: Connection = { active: 0, used: false, quietAt: socket.bytesRead };
    this.connections.set(socket, c);
    socket.once("close", () => this.connections.delete(socket));
    return c;
  }

  private readonly onConnection = (socket: Socket): void => void this.track(socket);

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? "/").split("?")[0];
    this.inFlight.set(res, { key: `${req.method} ${path}`, since: Date.now() });
    // A connection opened before gracefulShutdown() was called is followed from its next request.
    const socket = req.socket;
    const c = this.connections.get(socket) ?? this.track(socket);
    c.active++;
    c.used = true;
    if (this.closing) askToClose(res);
    res.once("close", () => {
      this.inFlight.delete(res);
      if (this.counting) this.served++;
      if (--c.active === 0) c.quietAt = socket.bytesRead;
      // A response whose headers went out before the shutdown promised keep-alive: once it is
      // done its connection is idle, and is closed (one sweep for all that finish together).
      if (this.stoppedAt > 0 && !this.sweepSoon)
        this.sweepSoon = setImmediate(() => {
          this.sweepSoon = undefined;
          this.sweep();
        });
    });
  };
}

/** Sets `Connection: close` while it can still be sent; Node then ends the socket after it. */
function askToClose(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader("connection", "close");
}
