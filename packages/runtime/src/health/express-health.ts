import type { IncomingMessage, ServerResponse } from "node:http";
import type { Health } from "./health.js";

/**
 * Express middleware (4 and 5) serving `h`'s endpoints; other requests go on to `next`. Mount it
 * at the root, before authentication and body parsing: `app.use(expressHealth(h))`.
 */
export function expressHealth(
  h: Health,
): (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    // Express strips a mount path from req.url; probes are matched on the full one.
    const full = (req as { originalUrl?: string }).originalUrl;
    if (full !== undefined && full !== req.url) {
      const url = req.url;
      req.url = full;
      const handled = h.handle(req, res);
      req.url = url;
      if (!handled) next();
      return;
    }
    if (!h.handle(req, res)) next();
  };
}
