import { Gauge, type Registry } from "prom-client";
import { sharedCounter } from "./usage-metrics.js";

/**
 * WebSocket sessions per negotiated protocol: open now (a gauge, to watch the share of v1 clients
 * fall after a release) and opened in all (a counter). Refusals have no protocol label: what a
 * client offers is its own to choose, and must not grow the label set.
 */
export class WebSocketMetrics {
  private readonly open: Gauge<"protocol">;
  private readonly opened;
  private readonly refused;

  constructor(registry: Registry) {
    const name = "baton_websocket_connections_open";
    const existing = registry.getSingleMetric(name);
    if (existing && !(existing instanceof Gauge))
      throw new Error(`versioning: metric ${name} is already registered, and is not a gauge`);
    this.open =
      (existing as Gauge<"protocol"> | undefined) ??
      new Gauge({
        name,
        help: "WebSocket connections open now, per negotiated protocol version.",
        labelNames: ["protocol"],
        registers: [registry],
      });
    this.opened = sharedCounter(
      registry,
      "baton_websocket_connections_opened_total",
      "WebSocket connections opened, per negotiated protocol version.",
      ["protocol"],
    );
    this.refused = sharedCounter(
      registry,
      "baton_websocket_connections_refused_total",
      "WebSocket upgrades refused because the client offered no supported protocol.",
      [],
    );
  }

  opening(protocol: string): void {
    this.open.inc({ protocol });
    this.opened.inc({ protocol });
  }

  closed(protocol: string): void {
    this.open.dec({ protocol });
  }

  refusal(): void {
    this.refused.inc();
  }
}
