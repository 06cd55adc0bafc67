import { describe, expect, it } from "vitest";
import { type SseEvent, SseParser } from "./sse-parser.js";

function parse(chunks: string[]) {
  const events: SseEvent[] = [];
  const retries: number[] = [];
  const parser = new SseParser({ onEvent: (event) => events.push(event), onRetry: (ms) => retries.push(ms) });
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries, parser };
}

describe("SseParser", () => {
  it("reads named events, ids, multi-line data and skips comments (heartbeats)", () => {
    const { events, parser } = parse([
      ": heartbeat\n\n",
      'event: unleash-connected\nid: 7\ndata: {"a":\ndata:  1}\n\n',
      "data: no name\n\n",
    ]);
    expect(events).toEqual([
      { event: "unleash-connected", data: '{"a":\n 1}', id: "7" },
      { event: "message", data: "no name", id: "7" },
    ]);
    expect(parser.lastEventId).toBe("7");
  });

  it("takes CRLF, CR and LF line ends, also split across chunks, and any chunking of a line", () => {
    const text = "event: a\r\ndata: 1\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n";
    const whole = parse([text]).events;
    expect(whole.map((event) => `${event.event}:${event.data}`)).toEqual(["a:1", "b:2", "message:3"]);
    const byChar = parse([...text]).events;
    expect(byChar).toEqual(whole);
    expect(parse([text.slice(0, 10), text.slice(10, 11), text.slice(11)]).events).toEqual(whole);
  });

  it("does not dispatch an event without data, nor one cut off by the end of the stream", () => {
    expect(parse(["event: x\n\n", "id: 3\n\n", "data: late"]).events).toEqual([]);
  });

  it("reports retry only when it is a number, and ignores unknown fields and ids with NUL", () => {
    const { events, retries } = parse(["retry: 2500\nretry: soon\nfoo: bar\nid: a\0b\ndata\n\n"]);
    expect(retries).toEqual([2500]);
    expect(events).toEqual([{ event: "message", data: "", id: "" }]);
  });
});
