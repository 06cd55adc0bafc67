import type { IncomingMessage, ServerResponse } from "node:http";
import type { ApiVersioning } from "./api-versioning.js";

/** The parts of Express's request and response the middleware uses (no import of Express). */
type ExpressRequest = IncomingMessage & { body?: unknown };
type ExpressResponse = ServerResponse & { json(body: unknown): unknown };

/**
 * Express middleware (tested with Express 5; written for 4 too): resolves the version, answers 400 to an unknown one, takes a path
 * version out of `req.url` (routes are written once, without it), brings `req.body` up to the
 * canonical model, and wraps `res.json` (which `res.send(object)` also goes through) to write 2xx
 * bodies back in the client's version. Mount it at the application level after `express.json()`:
 * `pathPrefix` is read against `req.url`, which a mounted router sees without its mount path.
 */
export function expressApiVersioning(
  api: ApiVersioning,
): (req: ExpressRequest, res: ExpressResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    const r = api.resolve(req);
    if (!r.ok) {
      const text = JSON.stringify(r.body);
      res.writeHead(r.status, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    for (const [k, v] of Object.entries(r.headers)) res.setHeader(k, v);
    if (r.url !== req.url) req.url = r.url;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      try {
        return json(api.downgradeResponse(body, r, res.statusCode));
      } catch (err) {
        const a = api.failure(err, r, "response");
        res.statusCode = a.status;
        return json(a.body);
      }
    };
    // Express 4's parsers set `req.body = {}` on requests without a body: only a body sent is read.
    if (req.body !== undefined && sentBody(req)) {
      try {
        req.body = api.upgradeRequest(req.body, r);
      } catch (err) {
        const a = api.failure(err, r, "request");
        res.statusCode = a.status;
        json(a.body);
        return;
      }
    }
    next();
  };
}

function sentBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}
