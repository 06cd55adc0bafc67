import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** The page's own modules and styles: packages/control/dashboard (from src/ and dist/ alike). */
const OWN_DIR = fileURLToPath(new URL("../../dashboard/", import.meta.url));
const require = createRequire(import.meta.url);

/** A dependency's root directory (not every package exports its package.json: found upwards). */
function packageDir(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === name) return dir;
  }
  throw new Error(`cannot find the package directory of ${name} (a dependency of @baton/control)`);
}

/** The libraries the page imports, from the project's own dependencies (no CDN: air-gapped works). */
const VENDOR: Record<string, () => string> = {
  "vendor/preact.mjs": () => join(packageDir("preact"), "dist/preact.mjs"),
  "vendor/hooks.mjs": () => join(packageDir("preact"), "hooks/dist/hooks.mjs"),
  "vendor/htm.mjs": () => join(packageDir("htm"), "dist/htm.module.js"),
  "vendor/uPlot.esm.js": () => join(packageDir("uplot"), "dist/uPlot.esm.js"),
  "vendor/uPlot.min.css": () => join(packageDir("uplot"), "dist/uPlot.min.css"),
};

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** One file as served: its bytes, already compressed both ways, and its validator. */
export interface Asset {
  type: string;
  raw: Buffer;
  gzip: Buffer;
  br: Buffer;
  etag: string;
}

function asset(type: string, raw: Buffer): Asset {
  return {
    type,
    raw,
    gzip: gzipSync(raw, { level: 9 }),
    br: brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
    etag: `"${createHash("sha256").update(raw).digest("base64url").slice(0, 22)}"`,
  };
}

/**
 * Everything the dashboard's page loads, read and compressed once when the API starts. Asset URLs
 * carry a digest of all of them (`/assets/<build>/...`), so they are cached for a year and a new
 * version of Baton is fetched at once; the page itself is revalidated every time.
 */
export class DashboardAssets {
  readonly build: string;
  readonly page: Asset;
  /** The Content-Security-Policy of the page: scripts from this origin, and the import map by hash. */
  readonly csp: string;
  private readonly files = new Map<string, Asset>();

  constructor() {
    if (!existsSync(join(OWN_DIR, "index.html")))
      throw new Error(
        `the dashboard's files are missing at ${OWN_DIR} (@baton/control is installed without them)`,
      );
    const sources = new Map<string, string>();
    for (const file of walk(OWN_DIR)) {
      const name = relative(OWN_DIR, file).split("\\").join("/");
      if (name !== "index.html" && TYPES[extname(name)]) sources.set(name, file);
    }
    for (const [name, resolve] of Object.entries(VENDOR)) sources.set(name, resolve());
    const whole = createHash("sha256");
    const raws = new Map<string, Buffer>();
    for (const [name, file] of [...sources].sort(([a], [b]) => a.localeCompare(b))) {
      const raw = readFileSync(file);
      raws.set(name, raw);
      whole.update(name).update(raw);
    }
    this.build = whole.digest("hex").slice(0, 12);
    for (const [name, raw] of raws) this.files.set(name, asset(TYPES[extname(name)]!, raw));

    const html = readFileSync(join(OWN_DIR, "index.html"), "utf8").replaceAll(
      "%BASE%",
      `/assets/${this.build}`,
    );
    const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1];
    if (importMap === undefined) throw new Error(`${join(OWN_DIR, "index.html")} has no import map`);
    const mapHash = createHash("sha256").update(importMap).digest("base64");
    this.page = asset(TYPES[".html"]!, Buffer.from(html));
    this.csp = [
      "default-src 'none'",
      `script-src 'self' 'sha256-${mapHash}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; ");
  }

  /** The asset at `path` under `/assets/<build>/`, if it is one. */
  get(path: string): Asset | undefined {
    return this.files.get(path);
  }

  /** What the first page costs over the wire (gzip): the page and every asset it loads. */
  firstPageBytes(): number {
    let total = this.page.gzip.length;
    for (const a of this.files.values()) total += a.gzip.length;
    return total;
  }
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}
