import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join } from "node:path";

/** What `baton init` could tell about the service in a directory, and from where. */
export interface ServiceGuess {
  service: string;
  /** The command that starts one instance. */
  run: string;
  /** Where `run` came from, for the comment above it ("package.json's start script"). */
  runFrom: string | null;
  /**
   * The environment variable the code reads its port from, as seen in the source: "PORT" (what
   * Baton sets), another one (`run` then maps PORT onto it), or null when none was seen.
   */
  portVariable: string | null;
  /** The file the port variable was seen in. */
  portSeenIn: string | null;
  /** A health path the code serves, when one was seen ("/health/ready", "/healthz"). */
  healthPath: string | null;
}

interface PackageJson {
  name?: unknown;
  main?: unknown;
  scripts?: Record<string, unknown>;
}

const SOURCE_EXTENSIONS = new Set([".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]);
const SKIPPED_DIRS = new Set(["node_modules", ".git", ".baton", "coverage", "test", "tests", "__tests__"]);
/** Bounds on what is read: init must answer at once, even in a large repository. */
const MAX_FILES = 300;
const MAX_FILE_BYTES = 512 * 1024;
const MAX_DEPTH = 3;
/** Most specific first: a readiness path beats a generic one. */
const HEALTH_PATHS = ["/health/ready", "/healthz", "/readyz", "/ready", "/health", "/ping"];

/** Reads package.json and the source files of `dir` to guess the service's name, command and port. */
export async function guessService(dir: string): Promise<ServiceGuess> {
  const pkg = await readPackageJson(dir);
  const service = serviceName(typeof pkg?.name === "string" ? pkg.name : basename(dir));
  const start = typeof pkg?.scripts?.start === "string" ? pkg.scripts.start : undefined;
  const main = typeof pkg?.main === "string" ? pkg.main : undefined;
  let run: string;
  let runFrom: string | null;
  if (start) {
    run = "npm start";
    runFrom = `package.json's start script, \`${start}\``;
  } else if (main) {
    run = `node ${main}`;
    runFrom = "package.json's main";
  } else {
    const entry = await firstExisting(dir, ["server.js", "index.js", "app.js", "main.js"]);
    run = `node ${entry ?? "server.js"}`;
    runFrom = entry ? `the file ${entry}` : null;
  }

  const files = await sourceFiles(dir);
  let portVariable: string | null = null;
  let portSeenIn: string | null = null;
  let otherPort: { name: string; file: string } | undefined;
  let healthPath: string | null = null;
  let healthRank = HEALTH_PATHS.length;
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8").catch(() => "");
    for (const name of portVariablesIn(text)) {
      if (name === "PORT" && !portVariable) {
        portVariable = "PORT";
        portSeenIn = file;
      } else if (name !== "PORT" && !otherPort) otherPort = { name, file };
    }
    // @baton/runtime's health() answers /readyz unless told otherwise: no string of it in the code.
    if (
      healthRank > 0 &&
      /["']@baton\/runtime["']/.test(text) &&
      /\b(health|expressHealth|fastifyHealth)\(/.test(text)
    ) {
      healthRank = 0;
      healthPath = "/readyz";
    }
    HEALTH_PATHS.forEach((path, rank) => {
      if (rank < healthRank && new RegExp(`["'\`]${path}["'\`]`).test(text)) {
        healthRank = rank;
        healthPath = path;
      }
    });
  }
  // Well-known servers started from the start script take their port as an option, not PORT.
  const known =
    start && !/\bPORT\b/.test(start) ? KNOWN_SERVERS.find((k) => k.pattern.test(start)) : undefined;
  if (!portVariable && known) {
    run = `npm start -- ${known.options}`;
    portVariable = "PORT";
    portSeenIn = `${known.name}'s options, passed by run`;
    return { service, run, runFrom, portVariable, portSeenIn, healthPath };
  }
  if (!portVariable && otherPort) {
    portVariable = otherPort.name;
    portSeenIn = otherPort.file;
    // Baton sets PORT; a program that reads another variable gets PORT's value under its name.
    run = `${otherPort.name}=$PORT ${run}`;
  }
  return { service, run, runFrom, portVariable, portSeenIn, healthPath };
}

/** CLI servers from npm that ignore PORT, and the options that give them Baton's. */
const KNOWN_SERVERS = [
  { name: "json-server", pattern: /^\s*(npx\s+)?json-server\b/, options: "--port $PORT --host 127.0.0.1" },
  { name: "http-server", pattern: /^\s*(npx\s+)?http-server\b/, options: "-p $PORT -a 127.0.0.1" },
  { name: "serve", pattern: /^\s*(npx\s+)?serve\b/, options: "-l tcp://127.0.0.1:$PORT" },
];

/** `process.env.PORT`, `process.env["HTTP_PORT"]`, `Deno.env.get("PORT")`, `env.PORT`: the names. */
export function portVariablesIn(text: string): string[] {
  const names = new Set<string>();
  const patterns = [
    /\benv\.([A-Z0-9_]*PORT[A-Z0-9_]*)\b/g,
    /\benv\[\s*["'`]([A-Z0-9_]*PORT[A-Z0-9_]*)["'`]\s*\]/g,
    /\benv\.get\(\s*["'`]([A-Z0-9_]*PORT[A-Z0-9_]*)["'`]\s*\)/g,
    /\{[^}]*\bPORT\b[^}]*\}\s*=\s*process\.env\b/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1] ?? "PORT"); // the destructuring form names PORT
  // Names that only mention a port of something else (a database, Redis) are not the server's.
  return [...names].filter((n) => n === "PORT" || !/(PG|DB|DATABASE|REDIS|MYSQL|MONGO|SMTP)/.test(n));
}

/** A valid service name (baton.yaml: 1-63 letters, digits, '.', '_' or '-') from a package name. */
export function serviceName(raw: string): string {
  const bare = raw.replace(/^@[^/]+\//, ""); // "@acme/payments" → "payments"
  const cleaned = bare
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 63);
  return cleaned || "service";
}

async function readPackageJson(dir: string): Promise<PackageJson | undefined> {
  const text = await readFile(join(dir, "package.json"), "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as PackageJson) : undefined;
  } catch {
    throw new Error(`${join(dir, "package.json")} is not valid JSON; fix it or remove it before baton init`);
  }
}

async function firstExisting(dir: string, names: string[]): Promise<string | undefined> {
  for (const name of names)
    if (
      await stat(join(dir, name)).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return name;
  return undefined;
}

/** Source files under `dir` (relative paths), breadth first, bounded in number, size and depth. */
async function sourceFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  let level = [""];
  for (let depth = 0; depth <= MAX_DEPTH && level.length > 0 && found.length < MAX_FILES; depth++) {
    const next: string[] = [];
    for (const rel of level) {
      const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
      for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
        const path = rel ? join(rel, e.name) : e.name;
        if (e.isDirectory()) {
          if (!SKIPPED_DIRS.has(e.name) && !e.name.startsWith(".")) next.push(path);
        } else if (e.isFile() && SOURCE_EXTENSIONS.has(extname(e.name)) && !/\.(test|spec)\./.test(e.name)) {
          const size = await stat(join(dir, path)).then(
            (s) => s.size,
            () => Infinity,
          );
          if (size <= MAX_FILE_BYTES) found.push(path);
          if (found.length >= MAX_FILES) return found;
        }
      }
    }
    level = next;
  }
  return found;
}
