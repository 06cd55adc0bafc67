import { describe, expect, it } from "vitest";
import { type ParsedHead, ResponseParser } from "./response-parser.js";

function parse(chunks: (string | Buffer)[], head = false) {
  const out = { head: undefined as ParsedHead | undefined, body: "", ended: false };
  const p = new ResponseParser(
    {
      onHead: (h) => (out.head = h),
      onBody: (c) => (out.body += c.toString("latin1")),
      onEnd: () => (out.ended = true),
    },
    head,
  );
  for (const c of chunks) p.feed(Buffer.isBuffer(c) ? c : Buffer.from(c, "latin1"));
  return Object.assign(out, { parser: p });
}

describe("upstream response parser", () => {
  it("frames by content-length across arbitrary splits", () => {
    const raw = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world";
    for (let cut = 1; cut < raw.length; cut += 7) {
      const r = parse([raw.slice(0, cut), raw.slice(cut)]);
      expect(r.head).toMatchObject({
        status: 200,
        keepAlive: true,
        headers: ["Content-Length", "11", "X-A", "b"],
      });
      expect(r.body).toBe("hello world");
      expect(r.ended).toBe(true);
      expect(r.parser.reusable).toBe(true);
    }
  });

  it("decodes chunked bodies with extensions and trailers", () => {
    const r = parse([
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhel",
      "lo\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
    ]);
    expect(r.body).toBe("hello world");
    expect(r.ended).toBe(true);
  });

  it("skips 1xx responses and ends HEAD/204/304 without a body", () => {
    const r = parse(["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok"]);
    expect(r.head!.status).toBe(201);
    expect(r.body).toBe("ok");
    expect(parse(["HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n"], true).ended).toBe(true);
    expect(parse(["HTTP/1.1 204 No Content\r\n\r\n"]).ended).toBe(true);
  });

  it("reads a body without length until close, and never reuses that connection", () => {
    const r = parse(["HTTP/1.0 200 OK\r\n\r\nabc"]);
    expect(r.ended).toBe(false);
    r.parser.end();
    expect(r.ended).toBe(true);
    expect(r.parser.reusable).toBe(false);
  });

  it("passes on the instance's keep-alive timeout hint", () => {
    expect(
      parse(["HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\ncontent-length: 0\r\n\r\n"]).head!.keepAliveHintMs,
    ).toBe(5000);
  });

  it("honours Connection: close and HTTP/1.0 keep-alive", () => {
    expect(parse(["HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n"]).parser.reusable).toBe(
      false,
    );
    expect(
      parse(["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n"]).parser.reusable,
    ).toBe(true);
  });

  it.each([
    ["conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"],
    ["obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"],
    ["bare LF", "HTTP/1.1 200 OK\nX: a\r\n\r\n"],
    ["bad status line", "HTTP/2 200\r\n\r\n"],
    ["bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
    ["space in header name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"],
  ])("refuses %s", (_name, raw) => {
    expect(() => parse([raw])).toThrow();
  });

  it("does not reuse a connection that sent bytes past the end of its response", () => {
    expect(parse(["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxy"]).parser.reusable).toBe(false);
    expect(parse(["HTTP/1.1 204 No Content\r\n\r\njunk"]).parser.reusable).toBe(false);
    expect(parse(["HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nx"]).parser.reusable).toBe(true);
  });

  it("does not reuse a connection whose response had both Transfer-Encoding and Content-Length", () => {
    const r = parse([
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ]);
    expect(r.body).toBe("abc");
    expect(r.parser.reusable).toBe(false);
  });
});
