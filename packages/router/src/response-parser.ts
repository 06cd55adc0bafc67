/**
 * An incremental, strict HTTP/1.1 response parser for the upstream leg. Anything it does not
 * understand is an error (the exchange answers 502 and drops the connection) rather than a guess:
 * no obs-fold, no bare LF, no conflicting Content-Length, no body framing it cannot prove.
 */

export const MAX_RESPONSE_HEAD = 64 * 1024;

export class UpstreamProtocolError extends Error {
  readonly code = "BATON_UPSTREAM_PROTOCOL";
}

export interface ParsedHead {
  status: number;
  /** Raw header list, flat [name, value, ...], in arrival order. */
  headers: string[];
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
  /** The instance's `Keep-Alive: timeout=N` hint in ms, when it sent one. */
  keepAliveHintMs?: number;
}

export interface ResponseSink {
  onHead(head: ParsedHead): void;
  onBody(chunk: Buffer): void;
  onEnd(): void;
}

enum Mode {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Control characters other than tab, and any CR or LF that is not part of a CRLF. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CTL = /[\0-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;

export class ResponseParser {
  private mode = Mode.Head;
  private pending: Buffer | null = null;
  private remaining = 0;
  private keepAlive = true;

  constructor(
    private readonly sink: ResponseSink,
    /** The request was HEAD: the response has no body whatever its headers say. */
    private readonly headRequest: boolean,
  ) {}

  get done(): boolean {
    return this.mode === Mode.Done;
  }

  /** Whether the response ends only when the connection closes. */
  get untilClose(): boolean {
    return this.mode === Mode.UntilClose;
  }

  /** Feeds bytes as they arrive; throws UpstreamProtocolError on anything malformed. */
  feed(data: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, data]) : data;
    this.pending = null;
    let pos = 0;
    while (pos < buf.length) {
      switch (this.mode) {
        case Mode.Head: {
          const end = buf.indexOf("\r\n\r\n", pos, "latin1");
          if (end < 0) {
            if (buf.length - pos > MAX_RESPONSE_HEAD)
              throw new UpstreamProtocolError("response head over 64 KiB");
            this.pending = buf.subarray(pos);
            return;
          }
          this.parseHead(buf.toString("latin1", pos, end), buf.length > end + 4);
          pos = end + 4;
          break;
        }
        case Mode.Length: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.sink.onBody(pos === 0 && n === buf.length ? buf : buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish(pos < buf.length);
          break;
        }
        case Mode.ChunkSize: {
          const eol = buf.indexOf("\r\n", pos, "latin1");
          if (eol < 0) {
            if (buf.length - pos > 4096) throw new UpstreamProtocolError("chunk size line too long");
            this.pending = buf.subarray(pos);
            return;
          }
          const line = buf.toString("latin1", pos, eol);
          const semi = line.indexOf(";");
          const hex = (semi < 0 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex))
            throw new UpstreamProtocolError(`bad chunk size ${JSON.stringify(hex)}`);
          this.remaining = Number.parseInt(hex, 16);
          pos = eol + 2;
          this.mode = this.remaining === 0 ? Mode.Trailers : Mode.ChunkData;
          break;
        }
        case Mode.ChunkData: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.sink.onBody(buf.subarray(pos, pos + n));
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.mode = Mode.ChunkDataEnd;
          break;
        }
        case Mode.ChunkDataEnd: {
          if (buf.length - pos < 2) {
            this.pending = buf.subarray(pos);
            return;
          }
          if (buf[pos] !== 13 || buf[pos + 1] !== 10)
            throw new UpstreamProtocolError("chunk not followed by CRLF");
          pos += 2;
          this.mode = Mode.ChunkSize;
          break;
        }
        case Mode.Trailers: {
          // Trailers are read and dropped (hop-by-hop for this proxy); an empty line ends them.
          const eol = buf.indexOf("\r\n", pos, "latin1");
          if (eol < 0) {
            if (buf.length - pos > MAX_RESPONSE_HEAD) throw new UpstreamProtocolError("trailers over 64 KiB");
            this.pending = buf.subarray(pos);
            return;
          }
          const empty = eol === pos;
          pos = eol + 2;
          if (empty) this.finish(pos < buf.length);
          break;
        }
        case Mode.UntilClose:
          this.sink.onBody(pos === 0 ? buf : buf.subarray(pos));
          return;
        case Mode.Done:
          // Bytes after a complete response (a misbehaving instance): finish() already marked the
          // connection as not reusable, so they are dropped with it.
          return;
      }
    }
  }

  /** The connection ended: completes a close-delimited body, or is an error mid-message. */
  end(): void {
    if (this.mode === Mode.UntilClose) this.finish();
    else if (this.mode !== Mode.Done)
      throw new UpstreamProtocolError("connection closed before the response ended");
  }

  private parseHead(text: string, moreBytes: boolean): void {
    // One scan of the whole head for control characters (bare CR/LF included) instead of one per line.
    if (CTL.test(text)) throw new UpstreamProtocolError("control character in response head");
    const lines = text.split("\r\n");
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) throw new UpstreamProtocolError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    const http10 = m[1] === "0";
    const status = Number(m[2]);
    const headers: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let connection = "";
    let keepAliveHint: string | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new UpstreamProtocolError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon);
      if (!TOKEN.test(name))
        throw new UpstreamProtocolError(`bad header name ${JSON.stringify(name.slice(0, 80))}`);
      const value = line.slice(colon + 1).trim();
      switch (name.length === 14 || name.length === 17 || name.length === 10 ? name.toLowerCase() : "") {
        case "content-length": {
          if (!/^\d{1,15}$/.test(value))
            throw new UpstreamProtocolError(`bad content-length ${JSON.stringify(value)}`);
          const n = Number(value);
          if (contentLength >= 0 && contentLength !== n)
            throw new UpstreamProtocolError("conflicting content-length");
          contentLength = n;
          break;
        }
        case "transfer-encoding": {
          transferEncoding = true;
          const codings = value.toLowerCase().split(",");
          chunked = codings[codings.length - 1]!.trim() === "chunked";
          break;
        }
        case "connection":
          connection += `${value.toLowerCase()},`;
          break;
        case "keep-alive":
          keepAliveHint = value;
          break;
      }
      headers.push(name, value);
    }
    if (status < 200) {
      // 1xx: informational; the final response follows on the same connection. 101 is never
      // expected here (upgrades go through the WebSocket path).
      if (status === 101) throw new UpstreamProtocolError("unexpected 101 Switching Protocols");
      return;
    }
    this.keepAlive = http10 ? connection.includes("keep-alive") : !connection.includes("close");
    const hint = keepAliveHint === undefined ? undefined : /timeout=(\d+)/i.exec(keepAliveHint);
    this.sink.onHead({
      status,
      headers,
      keepAlive: this.keepAlive,
      ...(hint ? { keepAliveHintMs: Number(hint[1]) * 1000 } : {}),
    });
    if (this.headRequest || status === 204 || status === 304) return this.finish(moreBytes);
    if (transferEncoding) {
      // Transfer-Encoding overrides Content-Length; a message with both is suspect, so the
      // connection is not reused afterwards (RFC 9112 6.3).
      if (contentLength >= 0) this.keepAlive = false;
      if (chunked) this.mode = Mode.ChunkSize;
      else this.untilCloseMode();
      return;
    }
    if (contentLength >= 0) {
      if (contentLength === 0) return this.finish(moreBytes);
      this.remaining = contentLength;
      this.mode = Mode.Length;
      return;
    }
    this.untilCloseMode();
  }

  private untilCloseMode(): void {
    this.keepAlive = false;
    this.mode = Mode.UntilClose;
  }

  /** `moreBytes`: data already arrived past this response, so the connection is not reused. */
  private finish(moreBytes = false): void {
    if (moreBytes) this.keepAlive = false;
    this.mode = Mode.Done;
    this.sink.onEnd();
  }

  /** After onEnd: may the connection be reused? */
  get reusable(): boolean {
    return this.keepAlive && this.mode === Mode.Done && this.pending === null;
  }
}
