import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { ApiVersioning, ResolvedVersion } from "./api-versioning.js";

/** A request as a versioned node:http handler sees it: in the canonical (latest) model. */
export interface VersionedRequest {
  raw: IncomingMessage;
  method: string;
  /** Path without the version segment and without the query. */
  path: string;
  query: URLSearchParams;
  /** The client's version (the body is already in the latest one). */
  version: string;
  clientId: string | undefined;
  /** The JSON body in the canonical model; undefined when the request had none. */
  body: unknown;
}

/** What the handler answers, in the canonical model; the adapter writes it in the client's version. */
export interface VersionedResponse {
  /** Default 200. */
  status?: number;
  /** Sent as JSON; a string or Buffer is sent as it is (not transformed); undefined: no body. */
  body?: unknown;
  headers?: OutgoingHttpHeaders;
}

export type VersionedHandler = (req: VersionedRequest) => VersionedResponse | Promise<VersionedResponse>;

export interface HttpApiVersioningOptions {
  /** Largest request body read, in bytes; larger: 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/**
 * A node:http request listener around a handler written against the canonical model: reads the
 * JSON body, brings it up from the client's version, and writes the handler's answer back in the
 * client's version, with the version's headers (Deprecation, Sunset...). An unknown version gets a
 * 400 listing the supported ones; a transform or handler that throws gets a 4xx/5xx, never a crash.
 */
export function httpApiVersioning(
  api: ApiVersioning,
  handler: VersionedHandler,
  options: HttpApiVersioningOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const maxBody = options.maxBodyBytes ?? 1024 * 1024;
  return (req, res) => {
    const r = api.resolve(req);
    if (!r.ok) return send(res, r.status, {}, r.body);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > maxBody) {
        tooLarge = true;
        chunks.length = 0;
        res.setHeader("connection", "close");
        send(res, 413, r.headers, {
          error: `request body over ${maxBody} bytes (maxBodyBytes)`,
          version: r.version,
        });
      } else chunks.push(chunk);
    });
    req.on("error", () => {}); // an aborted upload: nothing to answer
    req.on("end", () => {
      if (!tooLarge) void answer(r, Buffer.concat(chunks));
    });

    async function answer(r: ResolvedVersion, raw: Buffer): Promise<void> {
      let body: unknown;
      try {
        body = raw.length === 0 ? undefined : api.upgradeRequest(parseJson(raw), r);
      } catch (err) {
        const a = api.failure(err, r, "request");
        return send(res, a.status, r.headers, a.body);
      }
      let out: VersionedResponse;
      try {
        const q = r.url.indexOf("?");
        out = await handler({
          raw: req,
          method: r.method,
          path: r.path,
          query: new URLSearchParams(q < 0 ? "" : r.url.slice(q + 1)),
          version: r.version,
          clientId: r.clientId,
          body,
        });
      } catch (err) {
        const a = api.failure(err, r, "handler");
        return send(res, a.status, r.headers, a.body);
      }
      const status = out.status ?? 200;
      let payload = out.body;
      try {
        if (typeof payload !== "string" && !Buffer.isBuffer(payload))
          payload = api.downgradeResponse(payload, r, status);
      } catch (err) {
        const a = api.failure(err, r, "response");
        return send(res, a.status, r.headers, a.body);
      }
      send(res, status, { ...r.headers, ...out.headers }, payload);
    }
  };
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new Error(`the body is not JSON (${(err as Error).message})`);
  }
}

function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: unknown): void {
  if (res.headersSent) return;
  const text =
    body === undefined
      ? undefined
      : typeof body === "string" || Buffer.isBuffer(body)
        ? body
        : JSON.stringify(body);
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) res.setHeader(k, v);
  if (text !== undefined) {
    if (!res.hasHeader("content-type"))
      res.setHeader(
        "content-type",
        typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
      );
    res.setHeader("content-length", Buffer.byteLength(text));
  }
  res.end(text);
}
