import { type ClientIdentity, clientApiUrl, clientHeaders } from "./client-headers.js";
import { fetchError } from "./fetch-error.js";

const REQUEST_TIMEOUT_MS = 10_000;

/** POSTs JSON to a client-API path; a network failure or a non-2xx answer is thrown, naming the URL. */
export async function postClientApi(
  base: string,
  identity: ClientIdentity,
  path: string,
  body: unknown,
  intervalMs?: number,
): Promise<void> {
  const url = clientApiUrl(base, path);
  const response = await fetch(url, {
    method: "POST",
    headers: { ...clientHeaders(identity, intervalMs), "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  }).catch((error) => {
    throw fetchError(`POST ${url}`, error);
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}`);
}
