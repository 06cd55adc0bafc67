import type { ServiceConfigInput, ServiceView, StatsView } from "@baton/router";
import { request } from "undici";

export class RouterAdminError extends Error {
  readonly code = "BATON_ROUTER_UNREACHABLE";
  constructor(
    message: string,
    /** No answer at all (as opposed to a refusal): worth retrying. */
    readonly unreachable = false,
    /** The router's HTTP status, when it answered (404: it has no such service). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The control plane's view of one router: its admin API, nothing else. */
export class RouterAdmin {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(`${this.baseUrl}${path}`, {
        method: method as "GET",
        headers: {
          "content-type": "application/json",
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
    } catch (err) {
      throw new RouterAdminError(
        `router admin API at ${this.baseUrl} unreachable: ${(err as Error).message}`,
        true,
      );
    }
    const text = await res.body.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (res.statusCode >= 300) {
      const message = (parsed as { error?: { message?: string } })?.error?.message ?? text;
      throw new RouterAdminError(
        `router refused ${method} ${path} (HTTP ${res.statusCode}): ${message}`,
        false,
        res.statusCode,
      );
    }
    return parsed as T;
  }

  putService(service: ServiceConfigInput): Promise<unknown> {
    return this.call("PUT", `/v1/services/${encodeURIComponent(service.name)}`, service);
  }

  service(name: string): Promise<ServiceView> {
    return this.call("GET", `/v1/services/${encodeURIComponent(name)}`);
  }

  stats(service: string, windowSeconds: number): Promise<StatsView> {
    return this.call(
      "GET",
      `/v1/stats/${encodeURIComponent(service)}?window=${Math.max(1, Math.ceil(windowSeconds))}s`,
    );
  }
}
