import { Counter, type Registry } from "prom-client";

/** Label for the requests of clients beyond the cap (see `maxClients`). */
export const OTHER_CLIENTS = "(other)";
/** Client ids are cut to this many characters in labels: an id is the caller's to choose. */
const MAX_CLIENT_LABEL = 64;

/** A counter by that name in the registry, or a new one (two APIs, or a test, may share it). */
export function sharedCounter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) {
    if (!(existing instanceof Counter))
      throw new Error(`versioning: metric ${name} is already registered, and is not a counter`);
    return existing as Counter<L>;
  }
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/**
 * Requests per API version, and per version and client, so that a team sees who still calls v1
 * before retiring it. Client ids come from requests, so their label set is capped: the first
 * `maxClients` distinct ids keep their own label, later ones are counted as "(other)" (the total
 * per version stays exact in `baton_api_requests_total`).
 */
export class UsageMetrics {
  private readonly requests: Counter<"api" | "version" | "source">;
  private readonly clients: Counter<"api" | "version" | "client">;
  private readonly unknown: Counter<"api">;
  private readonly seen = new Set<string>();
  /** Labelled children, so the request path does not build label objects (bounded like the labels). */
  private readonly children = new Map<string, { inc(): void }>();

  constructor(
    registry: Registry,
    private readonly api: string,
    private readonly maxClients: number,
  ) {
    this.requests = sharedCounter(
      registry,
      "baton_api_requests_total",
      "Requests per API version, and where the version came from (header, path, pin, default).",
      ["api", "version", "source"],
    );
    this.clients = sharedCounter(
      registry,
      "baton_api_client_requests_total",
      "Requests per API version and client id (the first maxClients ids; the rest as (other)).",
      ["api", "version", "client"],
    );
    this.unknown = sharedCounter(
      registry,
      "baton_api_unknown_version_total",
      "Requests refused with 400 for naming an API version that is not served.",
      ["api"],
    );
  }

  record(version: string, source: string, clientId: string | undefined): void {
    this.child(`r\0${version}\0${source}`, () =>
      this.requests.labels({ api: this.api, version, source }),
    ).inc();
    if (clientId === undefined) return;
    const client = this.label(clientId);
    this.child(`c\0${version}\0${client}`, () =>
      this.clients.labels({ api: this.api, version, client }),
    ).inc();
  }

  private child(key: string, make: () => { inc(): void }): { inc(): void } {
    let c = this.children.get(key);
    if (!c) this.children.set(key, (c = make()));
    return c;
  }

  unknownVersion(): void {
    this.unknown.inc({ api: this.api });
  }

  private label(clientId: string): string {
    const id = clientId.slice(0, MAX_CLIENT_LABEL);
    if (this.seen.has(id)) return id;
    if (this.seen.size >= this.maxClients) return OTHER_CLIENTS;
    this.seen.add(id);
    return id;
  }
}
