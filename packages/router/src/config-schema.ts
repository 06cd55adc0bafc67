import { z } from "zod";
import { parseHostPort } from "./address.js";
import { cidrProblem } from "./cidr-set.js";
import { parseDuration } from "./duration.js";

const toMs = (v: string | number, ctx: z.RefinementCtx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({
      code: "custom",
      message: `not a duration: ${JSON.stringify(v)} (use e.g. 500ms, 2s, 1m)`,
    });
    return z.NEVER;
  }
  return ms;
};
const durationText = z.union([z.string(), z.number()]);
/** A duration in milliseconds; `fallback` fills it in when absent, else it stays optional to the caller. */
const duration = (fallback: string) => durationText.default(fallback).transform(toMs);
const optionalDuration = () => durationText.transform(toMs).optional();

/** A duration field ("500ms", "2s", "1m" or milliseconds) parsed to milliseconds. */
export const durationSchema = duration;
/** The same with no default: absent stays absent. */
export const optionalDurationSchema = optionalDuration;

const hostPort = (defaultHost: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const hp = parseHostPort(String(v), defaultHost);
    if (!hp) {
      ctx.addIssue({ code: "custom", message: `not a host:port address: ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return hp;
  });

const positiveInt = (fallback: number) => z.number().int().positive().default(fallback);
const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not a valid HTTP header name")
  .transform((s) => s.toLowerCase());

/** RFC 6265 4.1.1: a cookie name is a token; it goes into the router's own Set-Cookie header. */
const cookieName = z
  .string()
  .regex(
    /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/,
    "not a valid cookie name (1-64 token characters: no spaces, '=' or ';')",
  );

/**
 * A version is sent in every response's `x-baton-version` header and used as a metrics label, so it
 * must be a safe header value: semver (v1.2.3+build.4), tags, digests (sha256:ab12...), no spaces.
 */
export const VERSION_PATTERN = /^[A-Za-z0-9._~+:@/-]{1,128}$/;
const instanceAddress = hostPort("127.0.0.1").refine(
  (hp) => hp.port > 0,
  "instance port must be 1-65535 (port 0 is not an address anything listens on)",
);

/**
 * The path of an active health check: absolute, printable ASCII with no spaces (it is sent as the
 * request target as it is), so that a typo is a config error and not a check that never passes.
 */
const healthPath = z
  .string()
  .startsWith("/", "health path must start with /")
  .regex(
    /^\/[\x21-\x7e]*$/,
    "health path must be printable ASCII with no spaces or control characters (e.g. /health/ready)",
  )
  .max(2048, "health path must be at most 2048 characters");

const trackSchema = z.strictObject({
  version: z
    .string()
    .min(1, "version must not be empty")
    .regex(
      VERSION_PATTERN,
      "version must be 1-128 letters, digits or . _ ~ + : @ / - (it is sent as a header value: no spaces or control characters)",
    ),
  weight: z.number().int("weight must be a whole number of basis points").min(0).max(10_000),
  instances: z.array(instanceAddress).default([]),
  /** Sticky keys (user ids) always sent to this track, whatever the weights. */
  allow: z.array(z.string().min(1)).default([]),
  /**
   * This track's instances are checked on `path` instead of the service's `health.path` (interval,
   * timeout, rise and fall stay the service's): a version is checked on the readiness path it was
   * released with, while another track runs a version that serves a different one.
   */
  health: z.strictObject({ path: healthPath }).optional(),
});

/**
 * Track names become object keys: `__proto__`, `constructor` and the like would be dropped or
 * clash with JavaScript's own, so they are refused by name (zod drops `__proto__` silently).
 */
function refuseObjectKeys(tracks: Record<string, z.input<typeof trackSchema>>, ctx: z.RefinementCtx) {
  if (typeof tracks !== "object" || tracks === null) return tracks;
  for (const name of Object.keys(tracks)) {
    if (name in Object.prototype) {
      ctx.addIssue({
        code: "custom",
        path: [name],
        message: `"${name}" cannot be a track name: it is a built-in JavaScript property name`,
      });
    }
  }
  return tracks;
}

export const serviceSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "service names are 1-63 letters, digits, '.', '_' or '-'"),
    hosts: z
      .array(
        z
          .string()
          .min(1)
          .transform((h) => h.toLowerCase()),
      )
      .optional(),
    /**
     * Which sticky key puts a request in a bucket (see sticky-key.ts). First present wins:
     * - `header`: a request header naming the user (e.g. x-user-id); sent by the client or an auth proxy.
     * - `cookie`: a cookie naming the user, set by the application (or by the router, see `assign`).
     * - neither present: `assign` decides.
     *   - "cookie" (default): a random bucket key, sent back in `Set-Cookie: <cookie or baton_sticky>=<key>;
     *     Max-Age=<cookieMaxAge>; Path=/; HttpOnly; SameSite=Lax` (`; Secure` behind a trusted https
     *     proxy). A client that keeps it stays on one version; one that keeps no cookies is split per
     *     request, so traffic from one address (an ingress, a load generator) follows the weights.
     *   - "random": a random bucket per request and no cookie (APIs whose clients keep no cookies).
     *   - "address": the client address (the right-most untrusted X-Forwarded-For hop behind a
     *     trusted proxy). Behind a proxy that is not trusted, every request shares one bucket.
     */
    stickiness: z
      .strictObject({
        header: headerName.optional(),
        cookie: cookieName.optional(),
        assign: z.enum(["cookie", "random", "address"]).default("cookie"),
        cookieMaxAge: duration("30d").refine(
          (ms) => ms >= 1000 && ms <= 400 * 86_400_000,
          "cookieMaxAge must be from 1s to 400d (browsers cap cookies at 400 days)",
        ),
      })
      .prefault({}),
    health: z
      .strictObject({
        path: healthPath,
        interval: duration("1s").refine((ms) => ms > 0, "health interval must be more than 0 (e.g. 1s)"),
        timeout: duration("500ms").refine((ms) => ms > 0, "health timeout must be more than 0 (e.g. 500ms)"),
        rise: positiveInt(2),
        fall: positiveInt(3),
      })
      .optional(),
    passive: z
      .strictObject({
        consecutiveFailures: positiveInt(5),
        baseEjection: duration("1s"),
        maxEjection: duration("30s"),
        maxEjectedPercent: z.number().min(0).max(100).default(50),
      })
      .prefault({}),
    retries: z.strictObject({ attempts: z.number().int().min(0).max(10).default(2) }).prefault({}),
    pause: z
      .strictObject({ timeout: duration("5s"), maxWaiting: z.number().int().min(0).default(1000) })
      .prefault({}),
    drain: z
      .strictObject({
        timeout: duration("30s"),
        websocketCloseBatch: positiveInt(20),
        websocketCloseInterval: duration("250ms"),
      })
      .prefault({}),
    timeouts: z
      .strictObject({
        connect: duration("2s"),
        /** Longest wait for a pooled connection to an instance (all of them busy): then 503. */
        queue: duration("5s"),
        response: duration("60s"),
        idle: duration("60s"),
      })
      .prefault({}),
    maxConnectionsPerInstance: positiveInt(256),
    /**
     * The `x-baton-track` header picks a track only with `x-baton-track-token: <token>`; without
     * this, it is ignored, so that no client can reach a preview or a warm old version at will.
     */
    trackOverride: z.strictObject({ token: z.string().min(16, "use a token of 16+ characters") }).optional(),
    /** Requests waiting for a pooled connection per instance; beyond it, 503 at once. */
    maxQueuedPerInstance: z.number().int().min(0).default(1000),
    /** Slow or greedy clients: see client-guard.ts. 0 turns a limit off. */
    clients: z
      .strictObject({
        maxConcurrent: z.number().int().min(0).default(128),
        minBytes: z.number().int().min(0).default(8192),
        minBytesWindow: duration("10s"),
        requestBuffer: z.number().int().min(0).default(65_536),
        responseBuffer: z.number().int().min(0).default(262_144),
      })
      .prefault({}),
    tracks: z.preprocess(
      refuseObjectKeys,
      z.record(
        z.string().regex(/^[A-Za-z0-9._-]+$/, "track names are letters, digits, '.', '_' or '-'"),
        trackSchema,
      ),
    ),
  })
  .superRefine((svc, ctx) => {
    const names = Object.keys(svc.tracks);
    if (names.length === 0) {
      ctx.addIssue({ code: "custom", path: ["tracks"], message: "a service needs at least one track" });
      return;
    }
    const sum = names.reduce((acc, n) => acc + svc.tracks[n]!.weight, 0);
    if (sum !== 10_000) {
      ctx.addIssue({
        code: "custom",
        path: ["tracks"],
        message: `track weights must add up to 10000 basis points (100%), they add up to ${sum}`,
      });
    }
    const seen = new Map<string, string>();
    for (const n of names) {
      const t = svc.tracks[n]!;
      if (t.health && !svc.health) {
        ctx.addIssue({
          code: "custom",
          path: ["tracks", n, "health"],
          message:
            "a track's health.path overrides the service's health checks, and the service has none (set the service's health)",
        });
      }
      if (t.weight > 0 && t.instances.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["tracks", n, "instances"],
          message: `track has weight ${t.weight} but no instances to send it to`,
        });
      }
      t.instances.forEach((i, idx) => {
        const key = `${i.host}:${i.port}`;
        const other = seen.get(key);
        if (other !== undefined) {
          ctx.addIssue({
            code: "custom",
            path: ["tracks", n, "instances", idx],
            message: `${key} is already an instance of track "${other}"; an instance belongs to one track`,
          });
        }
        seen.set(key, n);
      });
    }
  });

export const routerConfigSchema = z
  .strictObject({
    listen: hostPort("0.0.0.0"),
    admin: z
      .strictObject({
        listen: hostPort("127.0.0.1"),
        token: z.string().min(16, "use a token of 16+ characters").optional(),
      })
      .optional(),
    /**
     * Proxies in front of the router (addresses or CIDR ranges, IPv4 or IPv6) whose X-Forwarded-For
     * and X-Forwarded-Proto are believed. Empty (default): nobody's; the router replaces them with
     * the peer's address and "http". See trusted-proxies.ts.
     */
    trustedProxies: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const problem = cidrProblem(entry);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      )
      .default([]),
    /** Where the last applied configuration is saved, so a restart resumes it. */
    stateFile: z.string().min(1).optional(),
    limits: z
      .strictObject({
        maxHeaderBytes: positiveInt(16_384),
        maxHeaderCount: positiveInt(100),
        headersTimeout: duration("10s"),
        requestTimeout: duration("30s"),
        keepAliveTimeout: duration("5s"),
        idleTimeout: duration("120s"),
        /** Largest WebSocket message (all its frames) either side may send; over it: close 1009. */
        websocketMaxMessageBytes: positiveInt(1_048_576),
        /** WebSocket bytes held in the router across all sessions; the session going over: close 1013. */
        websocketMaxBufferedBytes: positiveInt(67_108_864),
      })
      .refine((l) => l.websocketMaxBufferedBytes >= l.websocketMaxMessageBytes, {
        path: ["websocketMaxBufferedBytes"],
        message: "websocketMaxBufferedBytes must be at least websocketMaxMessageBytes (one whole message)",
      })
      .prefault({}),
    services: z.array(serviceSchema).default([]),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    let defaults = 0;
    const hosts = new Map<string, string>();
    cfg.services.forEach((svc, i) => {
      if (names.has(svc.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["services", i, "name"],
          message: `duplicate service name "${svc.name}"`,
        });
      }
      names.add(svc.name);
      if (!svc.hosts) defaults++;
      for (const h of svc.hosts ?? []) {
        const other = hosts.get(h);
        if (other) {
          ctx.addIssue({
            code: "custom",
            path: ["services", i, "hosts"],
            message: `host "${h}" is already served by "${other}"`,
          });
        }
        hosts.set(h, svc.name);
      }
    });
    if (defaults > 1) {
      ctx.addIssue({
        code: "custom",
        path: ["services"],
        message: `${defaults} services have no "hosts"; at most one service may be the default`,
      });
    }
  });

export type RouterConfigInput = z.input<typeof routerConfigSchema>;
export type RouterConfig = z.output<typeof routerConfigSchema>;
export type ServiceConfigInput = z.input<typeof serviceSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type TrackConfig = ServiceConfig["tracks"][string];
export type Stickiness = ServiceConfig["stickiness"];
