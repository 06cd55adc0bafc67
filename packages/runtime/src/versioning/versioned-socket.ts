import type { Body, VersionChain } from "./version-chain.js";

/** The parts of a `ws` WebSocket a session uses (no import of `ws` at run time). */
export interface WebSocketLike {
  readonly protocol: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: "message", listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this;
  on(event: "close", listener: (code: number, reason: Buffer) => void): this;
  on(event: "error", listener: (error: Error) => void): this;
}

/** What a change's message transforms are told. */
export interface ProtocolTransformContext {
  /** The connection's negotiated protocol. */
  protocol: string;
}

/** Hooks the owning versioning gives each session. */
export interface SessionHooks {
  closed(session: VersionedSocket): void;
  error(error: Error, protocol: string): void;
}

const OPEN = 1;
/** RFC 6455: a close reason is at most 123 bytes. */
const MAX_REASON = 123;

/**
 * One WebSocket connection, its protocol negotiated once for its lifetime. Messages from the
 * client arrive in the canonical (newest) model; messages sent are written in the connection's
 * protocol. A message that is not JSON, is binary, or that a change cannot read closes the
 * connection with 1007/1003 and a reason; a handler that throws closes it with 1011. None of it
 * throws out of an event handler (which would end the process).
 */
export class VersionedSocket<In = Body, Out = Body> {
  private handler: ((message: In, session: this) => unknown) | undefined;
  private readonly ctx: ProtocolTransformContext;

  constructor(
    /** The underlying `ws` WebSocket. */
    readonly socket: WebSocketLike,
    /** The negotiated protocol, e.g. "quotes.v1". */
    readonly protocol: string,
    private readonly chain: VersionChain<ProtocolTransformContext>,
    private readonly hooks: SessionHooks,
  ) {
    this.ctx = { protocol };
    socket.on("message", (data, isBinary) => this.received(data, isBinary));
    socket.on("close", () => hooks.closed(this));
    // `ws` emits an error for what the client got wrong (a message over maxPayload, a bad frame)
    // and has already closed with the right code (1009, 1002): without a listener, the error
    // would end the process.
    socket.on("error", () => {});
  }

  /** Sets the handler of client messages, which receives them in the canonical model. */
  onMessage(handler: (message: In, session: this) => unknown): this {
    this.handler = handler;
    return this;
  }

  /**
   * Sends a canonical message in this connection's protocol. False when the connection is not
   * open, or a change could not write the message (reported to onError; the connection stays).
   */
  send(message: Out): boolean {
    if (this.socket.readyState !== OPEN) return false;
    let text: string;
    try {
      text = JSON.stringify(this.chain.downgrade(message, this.protocol, this.ctx));
    } catch (err) {
      this.hooks.error(err as Error, this.protocol);
      return false;
    }
    this.socket.send(text);
    return true;
  }

  /** Sends text already written in this connection's protocol (see `broadcast`). */
  sendEncoded(text: string): boolean {
    if (this.socket.readyState !== OPEN) return false;
    this.socket.send(text);
    return true;
  }

  close(code = 1000, reason = ""): void {
    this.socket.close(code, truncate(reason));
  }

  private received(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (isBinary)
      return this.close(1003, `binary messages are not accepted; send JSON text (${this.protocol})`);
    const text = Array.isArray(data)
      ? Buffer.concat(data).toString("utf8")
      : Buffer.isBuffer(data)
        ? data.toString("utf8")
        : Buffer.from(data).toString("utf8");
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      return this.close(1007, `message is not JSON (${this.protocol})`);
    }
    let canonical: unknown;
    try {
      canonical = this.chain.upgrade(message, this.protocol, this.ctx);
    } catch (err) {
      return this.close(1007, (err as Error).message);
    }
    if (!this.handler) return;
    try {
      const done = this.handler(canonical as In, this);
      if (done instanceof Promise) done.catch((err: unknown) => this.handlerFailed(err));
    } catch (err) {
      this.handlerFailed(err);
    }
  }

  private handlerFailed(err: unknown): void {
    this.hooks.error(err instanceof Error ? err : new Error(String(err)), this.protocol);
    if (this.socket.readyState === OPEN) this.close(1011, "internal error (logged)");
  }
}

function truncate(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON) return reason;
  let out = reason.slice(0, MAX_REASON);
  while (Buffer.byteLength(out) > MAX_REASON - 3) out = out.slice(0, -1);
  return `${out}...`;
}
