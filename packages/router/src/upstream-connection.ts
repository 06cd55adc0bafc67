import { connect, type Socket } from "node:net";
import type { Readable } from "node:stream";
import { type ParsedHead, ResponseParser, type ResponseSink } from "./response-parser.js";

/** One request for the upstream leg: head already filtered, body (if any) still unread. */
export interface UpstreamRequest {
  method: string;
  path: string;
  /** Flat [name, value, ...]; must not contain framing headers the connection sets itself. */
  headers: string[];
  /** Body bytes the router already read from the client (see request-body.ts), sent first. */
  prefix: Buffer[] | null;
  /** The rest of the body, still unread (null when there is none or all of it is in `prefix`). */
  body: Readable | null;
  /** Content-Length of the body, or -1 when unknown (sent chunked). */
  bodyLength: number;
}

/** What an exchange hears from the upstream leg. */
export interface UpstreamHandler {
  /**
   * The request is about to be written: from here on it may reach the application.
   * Returning false cancels it before a byte is sent (the client went away while it waited).
   */
  onWrite(conn: UpstreamConnection): boolean;
  onHead(head: ParsedHead): void;
  /** Returns false to pause the upstream until `conn.resume()`. */
  onBody(chunk: Buffer): boolean;
  onEnd(): void;
  /** `written` is false only when nothing was sent (the connection never came up). */
  onError(err: Error & { code?: string }, written: boolean): void;
}

export class UpstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How a connection tells its pool about its life. */
export interface ConnectionHooks {
  connected(conn: UpstreamConnection): void;
  /** The slot is free: the connection is idle again (`reusable`) or gone. */
  released(conn: UpstreamConnection, reusable: boolean): void;
  /** The connection never came up; nothing was sent on it. */
  connectFailed(conn: UpstreamConnection, err: Error & { code?: string }): void;
}

enum State {
  Connecting,
  Idle,
  Busy,
  Closed,
}

/** A keep-alive HTTP/1.1 connection to one instance, carrying one request at a time. */
export class UpstreamConnection implements ResponseSink {
  private readonly socket: Socket;
  private state = State.Connecting;
  private handler: UpstreamHandler | undefined;
  private parser: ResponseParser | undefined;
  private bodyDone = true;
  /** Stops forwarding the request body (set while it is being pumped). */
  private stopBody: (() => void) | undefined;
  /** Reading is paused because the client is slower than the instance: no idle timeout then. */
  paused = false;
  /** The request body is paused because the instance reads it slower than the client sends it. */
  bodyBlocked = false;
  /** Epoch ms of the last byte in or out; drives the pool's timeouts. */
  lastActivity = Date.now();
  gotHead = false;
  /** How long this connection may idle: the instance's Keep-Alive hint, less a second of margin. */
  keepAliveMs = Number.POSITIVE_INFINITY;

  constructor(
    host: string,
    port: number,
    private readonly hooks: ConnectionHooks,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on("connect", this.onConnect);
    this.socket.on("data", this.onData);
    this.socket.on("end", this.onSocketEnd);
    this.socket.on("error", this.onSocketError);
    this.socket.on("close", this.onSocketClose);
  }

  get connecting(): boolean {
    return this.state === State.Connecting;
  }
  get idle(): boolean {
    return this.state === State.Idle;
  }
  get busy(): boolean {
    return this.state === State.Busy;
  }
  get closed(): boolean {
    return this.state === State.Closed;
  }

  /** Sends a request on this (connected, idle) connection. */
  send(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (!handler.onWrite(this)) {
      this.hooks.released(this, true);
      return;
    }
    this.state = State.Busy;
    this.handler = handler;
    this.gotHead = false;
    this.bodyBlocked = false;
    this.parser = new ResponseParser(this, req.method === "HEAD");
    this.lastActivity = Date.now();
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    const h = req.headers;
    for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
    if (req.body === null && req.prefix === null) {
      this.bodyDone = true;
      this.socket.write(req.bodyLength === 0 ? `${head}content-length: 0\r\n\r\n` : `${head}\r\n`, "latin1");
      return;
    }
    this.bodyDone = false;
    const chunked = req.bodyLength < 0;
    const socket = this.socket;
    socket.cork();
    socket.write(
      chunked
        ? `${head}transfer-encoding: chunked\r\n\r\n`
        : `${head}content-length: ${req.bodyLength}\r\n\r\n`,
      "latin1",
    );
    for (const chunk of req.prefix ?? []) this.writeBodyChunk(chunk, chunked);
    if (req.body === null) {
      if (chunked) socket.write("0\r\n\r\n", "latin1");
      this.bodyDone = true;
    }
    socket.uncork();
    if (req.body !== null) this.pumpBody(req.body, chunked);
  }

  /** Writes one piece of the request body; false when the socket asks us to slow down. */
  private writeBodyChunk(chunk: Buffer, chunked: boolean): boolean {
    const socket = this.socket;
    if (!chunked) return socket.write(chunk);
    // All three writes always happen (a false return only asks us to slow down); short-circuiting
    // them would drop bytes from the chunk and corrupt the body.
    socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
    socket.write(chunk);
    return socket.write("\r\n", "latin1");
  }

  private pumpBody(body: Readable, chunked: boolean): void {
    const socket = this.socket;
    const onData = (chunk: Buffer) => {
      this.lastActivity = Date.now();
      if (!this.writeBodyChunk(chunk, chunked)) {
        body.pause();
        this.bodyBlocked = true;
        socket.once("drain", () => {
          this.bodyBlocked = false;
          body.resume();
        });
      }
    };
    const onEnd = () => {
      cleanup();
      if (chunked) socket.write("0\r\n\r\n", "latin1");
      this.bodyDone = true;
      if (this.parser?.done) this.finishResponse();
    };
    const onAbort = () => {
      cleanup();
      if (!this.bodyDone && this.state === State.Busy) {
        this.fail(new UpstreamError("BATON_CLIENT_BODY_ABORTED", "client aborted the request body"));
      }
    };
    const cleanup = () => {
      this.stopBody = undefined;
      body.off("data", onData);
      body.off("end", onEnd);
      body.off("error", onAbort);
      body.off("aborted", onAbort);
    };
    this.stopBody = cleanup;
    body.on("data", onData);
    body.on("end", onEnd);
    body.on("error", onAbort);
    body.on("aborted", onAbort);
    // The body may have been paused while its first bytes were buffered (request-body.ts).
    body.resume();
  }

  /** Resumes reading after `onBody` returned false. */
  readonly resume = (): void => {
    this.paused = false;
    this.lastActivity = Date.now();
    this.socket.resume();
  };

  /** Gives up on the exchange: the connection cannot be reused mid-message. */
  abort(): void {
    this.handler = undefined;
    this.close();
  }

  /** Closes the connection and returns its slot to the pool, exactly once. */
  close(): void {
    if (this.state === State.Closed) return;
    const wasConnecting = this.state === State.Connecting;
    this.state = State.Closed;
    this.socket.destroy();
    if (!wasConnecting) this.hooks.released(this, false);
  }

  /** Fails the current exchange (timeouts, protocol errors) and drops the connection. */
  fail(err: UpstreamError): void {
    this.closeWith(err);
  }

  // ---- ResponseSink ------------------------------------------------------------------------

  onHead(head: ParsedHead): void {
    this.gotHead = true;
    if (head.keepAliveHintMs !== undefined) this.keepAliveMs = Math.max(0, head.keepAliveHintMs - 1000);
    this.handler?.onHead(head);
  }

  onBody(chunk: Buffer): void {
    if (this.handler && !this.handler.onBody(chunk)) {
      this.paused = true;
      this.socket.pause();
    }
  }

  onEnd(): void {
    // An instance may answer before reading the whole body (413, 401): the client gets that answer
    // now, the rest of the upload is not forwarded, and the connection is not reused.
    if (!this.bodyDone) this.stopBody?.();
    this.finishResponse();
  }

  private finishResponse(): void {
    const handler = this.handler;
    const reusable = this.parser!.reusable && this.bodyDone;
    this.handler = undefined;
    this.parser = undefined;
    handler?.onEnd();
    if (reusable && this.state === State.Busy) {
      this.state = State.Idle;
      this.lastActivity = Date.now();
      // The last chunk may have paused reading for a slow client; the next request needs it on.
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      this.hooks.released(this, true);
    } else {
      this.close();
    }
  }

  // ---- socket events -----------------------------------------------------------------------

  private readonly onConnect = (): void => {
    this.state = State.Idle;
    this.lastActivity = Date.now();
    this.hooks.connected(this);
  };

  private readonly onData = (data: Buffer): void => {
    this.lastActivity = Date.now();
    const parser = this.parser;
    if (!parser) {
      // Bytes on an idle connection: the instance is not speaking HTTP/1.1 request-response.
      this.close();
      return;
    }
    try {
      parser.feed(data);
    } catch (err) {
      this.fail(new UpstreamError("BATON_UPSTREAM_PROTOCOL", (err as Error).message));
    }
  };

  private readonly onSocketEnd = (): void => {
    if (this.parser?.untilClose) {
      try {
        this.parser.end();
      } catch (err) {
        this.fail(new UpstreamError("BATON_UPSTREAM_PROTOCOL", (err as Error).message));
      }
    }
  };

  private readonly onSocketError = (err: Error & { code?: string }): void => {
    this.closeWith(err);
  };

  private readonly onSocketClose = (): void => {
    this.closeWith(
      new UpstreamError("UPSTREAM_CLOSED", "instance closed the connection before the response ended"),
    );
  };

  /** Ends the connection because of `err`, telling whoever waits on it (pool or exchange) once. */
  private closeWith(err: Error & { code?: string }): void {
    if (this.state === State.Closed) return;
    if (this.state === State.Connecting) {
      this.state = State.Closed;
      this.socket.destroy();
      this.hooks.connectFailed(this, err);
      return;
    }
    const handler = this.handler;
    this.handler = undefined;
    this.close();
    handler?.onError(err, true);
  }
}
