/** One dispatched server-sent event. `id` is the last event id seen on the stream (it persists). */
export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

export interface SseHandlers {
  onEvent(event: SseEvent): void;
  /** The server's `retry:` field, in milliseconds. */
  onRetry?(milliseconds: number): void;
}

// A state of many thousands of flags is a few megabytes on one `data:` line; anything far beyond that
// is a broken or hostile stream, and buffering it would only grow memory.
const MAX_LINE_LENGTH = 64 * 1024 * 1024;

/**
 * The event-stream format of the WHATWG HTML standard, fed with decoded text in chunks of any size:
 * lines end in CRLF, LF or CR (a CRLF split across two chunks is one line end), `:` starts a comment
 * (heartbeats), `data` lines join with LF, `id` persists across events and an event without data is
 * not dispatched. An event cut off by the end of the stream is dropped, as the standard says.
 */
export class SseParser {
  #partial = "";
  #afterCR = false;
  #data: string[] = [];
  #type = "";
  #lastEventId = "";

  constructor(private readonly handlers: SseHandlers) {}

  /** The id the next reconnection should send as `Last-Event-ID`. */
  get lastEventId(): string {
    return this.#lastEventId;
  }

  push(chunk: string): void {
    if (chunk.length === 0) return;
    let start = 0;
    if (this.#afterCR && chunk.charCodeAt(0) === 10) start = 1;
    this.#afterCR = false;
    for (let i = start; i < chunk.length; i++) {
      const code = chunk.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      const line = this.#partial + chunk.slice(start, i);
      this.#partial = "";
      if (code === 13) {
        if (i + 1 === chunk.length) this.#afterCR = true;
        else if (chunk.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.#line(line);
    }
    if (start < chunk.length) this.#partial += chunk.slice(start);
    if (this.#partial.length > MAX_LINE_LENGTH) {
      this.#partial = "";
      throw new Error(`event-stream line longer than ${MAX_LINE_LENGTH} characters`);
    }
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.charCodeAt(0) === 58) return; // ":" comment, used as a heartbeat
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "event":
        this.#type = value;
        break;
      case "data":
        this.#data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.#lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.handlers.onRetry?.(Number(value));
        break;
    }
  }

  #dispatch(): void {
    const type = this.#type;
    const data = this.#data;
    this.#type = "";
    this.#data = [];
    if (data.length === 0) return;
    this.handlers.onEvent({ event: type || "message", data: data.join("\n"), id: this.#lastEventId });
  }
}
