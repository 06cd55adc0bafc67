import { RouterAdmin } from "@baton/control";

/**
 * The control plane's handle on a router that `baton up` may restart. The admin port is kept
 * across restarts (see router-process.ts), but when another process took it meanwhile the new
 * router listens elsewhere: `moveTo` points every later call at it, without rebuilding the
 * control plane (which holds this object for its whole life).
 */
export class MovableRouterAdmin extends RouterAdmin {
  private current: RouterAdmin;

  constructor(
    url: string,
    private readonly adminToken?: string,
  ) {
    super(url, adminToken);
    this.current = new RouterAdmin(url, adminToken);
  }

  get url(): string {
    return this.current.baseUrl;
  }

  moveTo(url: string): void {
    if (url !== this.current.baseUrl) this.current = new RouterAdmin(url, this.adminToken);
  }

  override putService(
    service: Parameters<RouterAdmin["putService"]>[0],
  ): ReturnType<RouterAdmin["putService"]> {
    return this.current.putService(service);
  }

  override service(name: string): ReturnType<RouterAdmin["service"]> {
    return this.current.service(name);
  }

  override stats(service: string, windowSeconds: number): ReturnType<RouterAdmin["stats"]> {
    return this.current.stats(service, windowSeconds);
  }
}
