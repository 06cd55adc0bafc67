import type { IncomingMessage, ServerResponse } from "node:http";
import { Exchange } from "./exchange.js";
import { onlyChunkedCoding } from "./hop-headers.js";
import type { Logger } from "./logger.js";
import { plainResponse } from "./plain-response.js";
import { readRequestHead } from "./request-head.js";
import type { Service } from "./service.js";
import { stickyKeyOf } from "./sticky-key.js";
import type { TrustedProxies } from "./trusted-proxies.js";

export type ServiceResolver = (req: IncomingMessage) => Service | undefined;

/**
 * Forwards plain HTTP requests. One `Exchange` (exchange.ts) per request drives the upstream pool directly
 * (no promise, no stream wrapper), which is what makes this path fast.
 */
export class HttpProxy {
  constructor(
    private readonly resolve: ServiceResolver,
    readonly log: Logger,
    private readonly trust: TrustedProxies,
  ) {}

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    const service = this.resolve(req);
    if (!service) {
      plainResponse(res, 404, undefined, `no service for host ${JSON.stringify(req.headers.host ?? "")}\n`);
      return;
    }
    if (req.method === "CONNECT") {
      plainResponse(res, 405, undefined, "CONNECT is not supported\n");
      return;
    }
    const cfg = service.config;
    const head = readRequestHead(req, cfg.stickiness.header, this.trust);
    if (head.chunked && !onlyChunkedCoding(req.rawHeaders)) {
      plainResponse(res, 501, undefined, "only the chunked transfer coding is supported\n", true);
      return;
    }
    const address = head.clientAddress;
    if (!service.clients.acquire(address)) {
      const limit = cfg.clients.maxConcurrent;
      // A body still on its way would otherwise be read (and thrown away) to keep the connection.
      plainResponse(
        res,
        429,
        undefined,
        `more than ${limit} requests in flight from ${address}\n`,
        !req.complete,
      );
      return;
    }
    const sticky = stickyKeyOf(head, cfg.stickiness, service.table.splits);
    const override = service.permittedOverride(head);
    const track = service.chooseTrack(sticky, override);
    new Exchange(
      this.log,
      req,
      res,
      service,
      track,
      head,
      sticky,
      override,
      cfg.clients.maxConcurrent > 0 ? address : undefined,
    ).start();
  };
}
