// Page loads measured in Chromium (playwright-core): what went over the wire (from the DevTools
// protocol's Network events) and when the page showed what it was waited for (stamped in the page
// itself by a MutationObserver, in performance.now(): milliseconds since the navigation started).
// Used by bench/dashboard-bench.js for Baton's dashboard and for the peers' UIs alike.

import { chromium } from "playwright-core";

export const CHROMIUM = process.env.BATON_CHROMIUM ?? "/usr/bin/chromium-headless-shell";

/**
 * One browser for every measurement. Names other than 127.0.0.1 fail at once (no DNS): this machine
 * has no way out anyway, and a page's third-party requests (fonts, avatars) are then counted as
 * failed instead of waiting on a resolver's timeout.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
}

/**
 * The in-page watcher: `conditions` maps a name to a function's source (run in the page, returning
 * true once the thing is shown). `ready` is watched from the start; the others once armed
 * (`__bench.arm(name)`, e.g. just before a click). Injected through the DevTools protocol, so the
 * page's CSP does not apply to it.
 */
function watcherScript(conditions) {
  const entries = Object.entries(conditions)
    .map(([name, src]) => `${JSON.stringify(name)}: (${src})`)
    .join(",\n");
  return `(() => {
  const b = (window.__bench = { at: {}, armedAt: {} });
  const conds = { ${entries} };
  const check = () => {
    const now = performance.now();
    for (const k in conds) {
      if (b.at[k] !== undefined || (k !== "ready" && b.armedAt[k] === undefined)) continue;
      try { if (conds[k]()) b.at[k] = now; } catch {}
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
  b.arm = (k) => { b.armedAt[k] = performance.now(); check(); };
})();`;
}

/** Every request of one page, from the DevTools protocol's Network domain. */
async function trackNetwork(context, page) {
  const cdp = await context.newCDPSession(page);
  const requests = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    const prev = requests.get(e.requestId);
    // A redirect reuses the id: the hop before it counts as a request of its own.
    if (prev) requests.set(`${e.requestId}#${prev.start}`, { ...prev, finished: true });
    requests.set(e.requestId, {
      url: e.request.url,
      method: e.request.method,
      type: e.type ?? "Other",
      start: e.timestamp,
      headerBytes: 0,
      dataBytes: 0,
      bytes: null,
      finished: false,
      failed: null,
      status: null,
      encoding: null,
      fromCache: false,
    });
  });
  cdp.on("Network.responseReceived", (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.status = e.response.status;
    r.headerBytes = e.response.encodedDataLength ?? 0;
    r.fromCache = Boolean(e.response.fromDiskCache || e.response.fromServiceWorker);
    const h = Object.fromEntries(
      Object.entries(e.response.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    );
    r.encoding = h["content-encoding"] ?? null;
    r.contentType = h["content-type"] ?? null;
    r.cacheControl = h["cache-control"] ?? null;
  });
  cdp.on("Network.dataReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.dataBytes += e.encodedDataLength ?? 0;
  });
  cdp.on("Network.loadingFinished", (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.finished = true;
    r.bytes = e.encodedDataLength;
  });
  cdp.on("Network.loadingFailed", (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    r.finished = true;
    r.failed = e.errorText;
  });
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
  return { cdp, requests };
}

/** Bytes on the wire of one request (headers included): an open stream counts what came so far. */
const wireBytes = (r) => (r.bytes !== null ? r.bytes : r.headerBytes + r.dataBytes);

/** Waits until no request but an event stream is open and none started for `quietMs` (bounded). */
async function settle(net, { quietMs = 500, maxMs = 8000 } = {}) {
  const deadline = Date.now() + maxMs;
  let lastCount = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    const all = [...net.requests.values()];
    const open = all.filter((r) => !r.finished && r.type !== "EventSource");
    if (all.length !== lastCount || open.length > 0) {
      lastCount = all.length;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** What the page is made of (as against the API's JSON and the event stream). */
const ASSET_TYPES = new Set(["Document", "Script", "Stylesheet", "Image", "Font", "Media"]);

/**
 * The requests started at or after `fromTs` (the protocol's clock, seconds), summed up: `local` are
 * those to the server measured (127.0.0.1), `external` those elsewhere (they fail here).
 */
export function summarize(requests, fromTs = -Infinity, toTs = Infinity) {
  // data: URLs are no requests (Chromium reports them all the same).
  const list = [...requests.values()].filter(
    (r) => r.start >= fromTs && r.start < toTs && /^https?:/.test(r.url),
  );
  const local = list.filter((r) => new URL(r.url).hostname === "127.0.0.1");
  const external = list.filter((r) => new URL(r.url).hostname !== "127.0.0.1");
  const encodings = {};
  for (const r of local) if (r.encoding) encodings[r.encoding] = (encodings[r.encoding] ?? 0) + 1;
  const assets = local.filter((r) => ASSET_TYPES.has(r.type));
  return {
    requests: local.length,
    assets: assets.length,
    assetBodyBytes: assets.reduce((s, r) => s + Math.max(0, wireBytes(r) - r.headerBytes), 0),
    bytes: local.reduce((s, r) => s + wireBytes(r), 0),
    bodyBytes: local.reduce((s, r) => s + Math.max(0, wireBytes(r) - r.headerBytes), 0),
    failed: local.filter((r) => r.failed).length,
    fromCache: local.filter((r) => r.fromCache).length,
    external: external.length,
    externalHosts: [...new Set(external.map((r) => new URL(r.url).hostname))],
    encodings,
    byType: local.reduce((m, r) => {
      m[r.type] = (m[r.type] ?? 0) + 1;
      return m;
    }, {}),
  };
}

/**
 * Opens `url` in a fresh browser context (empty cache, only `cookies`), waits for the `ready`
 * condition (bounded by `timeoutMs`), then for the network to settle. Returns the times (ms since
 * navigation start), the requests until ready and until settled, and the open page (the caller
 * closes `context`).
 */
export async function measureLoad(browser, { url, cookies = [], conditions, timeoutMs = 20_000 }) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    if (cookies.length) await context.addCookies(cookies);
    const page = await context.newPage();
    page.setDefaultTimeout(timeoutMs);
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.addInitScript({ content: watcherScript(conditions) });
    const net = await trackNetwork(context, page);
    await page.goto(url, { waitUntil: "commit", timeout: timeoutMs });
    await page.waitForFunction(() => window.__bench?.at.ready !== undefined, null, {
      timeout: timeoutMs,
      polling: 20,
    });
    const marks = await page.evaluate(() => ({
      ready: window.__bench.at.ready,
      fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null,
      domContentLoaded: performance.getEntriesByType("navigation")[0]?.domContentLoadedEventEnd ?? null,
    }));
    const navStart = Math.min(...[...net.requests.values()].map((r) => r.start));
    // Bytes until shown: counted now (an open stream's bytes so far; ≤ 20 ms of polling late).
    const untilReady = summarize(net.requests, -Infinity, navStart + marks.ready / 1000);
    const settled = await settle(net);
    return {
      context,
      page,
      net,
      navStart,
      errors,
      readyMs: marks.ready,
      fcpMs: marks.fcp,
      domContentLoadedMs: marks.domContentLoaded,
      settled,
      untilReady,
      total: summarize(net.requests),
      list: () =>
        [...net.requests.values()].map((r) => ({
          url: r.url,
          type: r.type,
          status: r.status,
          encoding: r.encoding,
          cacheControl: r.cacheControl ?? null,
          bytes: wireBytes(r),
          headerBytes: r.headerBytes,
          startMs: Math.round((r.start - navStart) * 1000),
          failed: r.failed,
        })),
    };
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
}

/**
 * A step within an open page: arms condition `name`, clicks the element `selector` names, waits for
 * the condition and the network; the time from the click and the requests it made.
 */
export async function measureStep(load, name, selector, { timeoutMs = 20_000 } = {}) {
  const { page, net, navStart } = load;
  const armedAt = await page.evaluate(
    ([n, sel]) => {
      window.__bench.arm(n);
      const at = window.__bench.armedAt[n];
      document.querySelector(sel).click();
      return at;
    },
    [name, selector],
  );
  await page.waitForFunction((n) => window.__bench.at[n] !== undefined, name, {
    timeout: timeoutMs,
    polling: 20,
  });
  const at = await page.evaluate((n) => window.__bench.at[n], name);
  await settle(net);
  return { ms: at - armedAt, requests: summarize(net.requests, navStart + armedAt / 1000 - 0.001) };
}
