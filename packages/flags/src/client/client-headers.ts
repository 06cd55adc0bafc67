import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";

/** The Unleash client-spec version whose formats this client speaks (what unleash-client 6 sends). */
export const CLIENT_SPEC_VERSION = "5.2.0";
export const SDK_VERSION = "baton-node-sdk:0.1.0";

export interface ClientIdentity {
  token: string;
  appName: string;
  instanceId: string;
  /** Unique per client object, so that the server can tell two clients of one instance apart. */
  connectionId: string;
}

/** The headers Unleash's SDKs send on every client API request; the token goes as it is. */
export function clientHeaders(identity: ClientIdentity, intervalMs?: number): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: identity.token,
    "unleash-appname": identity.appName,
    "unleash-instanceid": identity.instanceId,
    "unleash-connection-id": identity.connectionId,
    "unleash-sdk": SDK_VERSION,
    "unleash-client-spec": CLIENT_SPEC_VERSION,
  };
  if (intervalMs !== undefined) headers["unleash-interval"] = String(intervalMs);
  return headers;
}

/** As unleash-client names an instance: the user and the host, else something random. */
export function defaultInstanceId(): string {
  try {
    return `${userInfo().username}-${hostname()}`;
  } catch {
    return `generated-${Math.round(Math.random() * 1_000_000)}-${process.pid}`;
  }
}

export const newConnectionId = (): string => randomUUID();

/** `http://host/api` + `client/features`, keeping the base's path as Unleash's SDKs do. */
export function clientApiUrl(base: string, path: string): string {
  return new URL(path, base.endsWith("/") ? base : `${base}/`).toString();
}
