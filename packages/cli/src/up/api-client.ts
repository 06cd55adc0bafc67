import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";

/** An error the control plane answered with (or could not be reached for), with its stable code. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiTarget {
  url: string;
  token?: string;
}

/** Where `baton up` wrote its address: `<data dir>/api.json`. */
export const API_FILE = "api.json";
/** The API token `baton up` made when none was given (mode 0600: readable by its user only). */
export const TOKEN_FILE = "api.token";

/**
 * Finds the control plane's API: `--api` / `BATON_API`, else the `api.json` that `baton up` wrote
 * in the data directory (`.baton/` beside baton.yaml). The token comes from `BATON_API_TOKEN`.
 */
export async function findApi(opts: { api?: string; dataDir?: string }): Promise<ApiTarget> {
  const token = process.env.BATON_API_TOKEN || undefined;
  const explicit = opts.api ?? process.env.BATON_API;
  if (explicit) return { url: explicit.replace(/\/$/, ""), ...(token ? { token } : {}) };
  const dataDir = resolve(opts.dataDir ?? ".baton");
  const file = join(dataDir, API_FILE);
  const text = await readFile(file, "utf8").catch(() => undefined);
  if (!text)
    throw new ApiError(
      "BATON_NOT_UP",
      `no control plane found: ${file} does not exist. Run \`baton up\` in the service's directory, or give --api URL`,
    );
  const { url } = JSON.parse(text) as { url: string };
  const local = token ?? (await readFile(join(dataDir, TOKEN_FILE), "utf8").catch(() => "")).trim();
  return { url, ...(local ? { token: local } : {}) };
}

export async function callApi<T>(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new ApiError(
      "BATON_API_UNREACHABLE",
      `the control plane at ${target.url} does not answer (${cause}); is \`baton up\` running?`,
    );
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(
      "BATON_API_BAD_ANSWER",
      `${method} ${path}: HTTP ${res.status}: ${text.slice(0, 200)}`,
    );
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(e?.code ?? `HTTP_${res.status}`, e?.message ?? `HTTP ${res.status}`);
  }
  return parsed as T;
}
