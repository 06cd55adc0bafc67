import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseServiceFile } from "@baton/control";
import { guessService, type ServiceGuess } from "./service-guess.js";

export interface InitOptions {
  file: string;
  force?: boolean;
  listen?: number;
}

/**
 * `baton init`: writes a commented baton.yaml for the service in the current directory, with
 * `run`, the port variable and a health path guessed from package.json and the code. An existing
 * file is never overwritten without --force: it may hold settings someone chose.
 */
export async function runInit(opts: InitOptions): Promise<void> {
  const dir = process.cwd();
  const path = resolve(dir, opts.file);
  const guess = await guessService(dir);
  const text = serviceFileText(guess, opts.listen ?? 8080);
  // What is written must be what `baton up` accepts: checked before the file exists.
  parseServiceFile(text, path);
  await writeFile(path, text, { flag: opts.force ? "w" : "wx" }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "EEXIST")
      throw Object.assign(
        new Error(`${path} already exists; baton init leaves it as it is (--force overwrites it)`),
        { code: "BATON_FILE_EXISTS" },
      );
    throw new Error(`cannot write ${path}: ${err.code ?? err.message}`);
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`wrote ${path} for ${guess.service}`);
  out(`  run: ${guess.run}${guess.runFrom ? ` (from ${guess.runFrom})` : " (a guess: edit it)"}`);
  out(`  port: ${portNote(guess)}`);
  out("next: `baton up` here (leave it running), then `baton deploy --version v1 --wait`");
}

function portNote(g: ServiceGuess): string {
  if (g.portVariable === "PORT") return `the code reads PORT (${g.portSeenIn}), which Baton sets`;
  if (g.portVariable)
    return `the code reads ${g.portVariable} (${g.portSeenIn}); run sets it to Baton's PORT`;
  return "no PORT read seen in the code: the server must listen on $PORT (see the comment in the file)";
}

/** The commented baton.yaml. Every value is a valid one: the file works as written. */
export function serviceFileText(guess: ServiceGuess, listen: number): string {
  // What came from package.json or file names goes into comments: a line break there would start
  // a key of its own (`keepPreviousFor: 0s` hidden in a start script). `run` is quoted instead.
  const clean = (v: string | null) => (v === null ? null : oneLine(v));
  const g: ServiceGuess = {
    ...guess,
    service: oneLine(guess.service),
    runFrom: clean(guess.runFrom),
    portSeenIn: clean(guess.portSeenIn),
    portVariable: clean(guess.portVariable),
    healthPath: clean(guess.healthPath),
  };
  const runComment = g.runFrom
    ? `Guessed from ${g.runFrom}`
    : "A guess: no package.json start script or main was found";
  const portComment =
    g.portVariable === "PORT"
      ? [`# The code reads PORT (seen in ${g.portSeenIn}): Baton gives each instance its own.`]
      : g.portVariable
        ? [
            `# The code reads ${g.portVariable} (seen in ${g.portSeenIn}), not PORT: \`run\` passes Baton's`,
            "# PORT on under that name.",
          ]
        : [
            "# No read of PORT was seen in the code: the server must listen on the port Baton gives it",
            "# in $PORT. One that takes its port as an argument gets it there, e.g. `node server.js --port $PORT`.",
          ];
  const healthComment = g.healthPath
    ? `# Seen in the code. Must answer 2xx once an instance can take traffic.`
    : "# No health path was seen in the code: / must answer 2xx once an instance can take traffic\n" +
      "  # (a path of its own, checking what the instance needs, is better).";
  return `# baton.yaml for ${g.service}, written by \`baton init\`. Every key is documented in the JSON
# Schema that \`baton schema\` prints; baton up reads this file again at every deploy.
service: ${g.service}

# The router's public port: users connect here, and the router sends each request to an instance.
listen: ${listen}
# How many instances of each version run.
instances: 2

# How one instance starts (through sh -c, in the release's directory) with PORT, the port it must
# listen on, BATON_VERSION and BATON_SERVICE set. ${runComment}.
${portComment.join("\n")}
run: ${yamlString(g.run)}

health:
  ${healthComment}
  readiness: ${g.healthPath ?? "/"}
  # How long a new instance has to become ready before its release gives up.
  startTimeout: 60s

# How a new version replaces the old one: rolling | blue-green | canary.
strategy: canary
canary:
  # A step below 100 holds for its pause while the analysis compares the new version with the old;
  # a step without a pause waits for \`baton promote\`. 100 is the promotion.
  steps: [{ weight: 10, pause: 30s }, { weight: 50, pause: 30s }, { weight: 100 }]

# Every strategy is judged by this: the new version fails when its 5xx rate is certainly higher
# (by more than maxErrorRateIncrease) or its p95 latency certainly slower (by more than
# maxP95IncreaseMs); too little traffic is inconclusive, never a pass.
analysis: { minRequests: 1000, maxErrorRateIncrease: 0.02, maxP95IncreaseMs: 200, confidence: 0.99 }

# One user, one version during a split: the header (or cookie) carrying a user's id. Without one,
# the router gives each new client a random one in a cookie (baton_sticky); see the README.
# stickiness: { header: x-user-id }

# How an old instance leaves: it gets no new requests, then has \`timeout\` to finish what it serves.
drain: { timeout: 30s, preStop: 2s }
`;
}

/** A YAML scalar: plain when that reads back unchanged, else double-quoted. */
function yamlString(s: string): string {
  return /^[A-Za-z0-9_./$=-][A-Za-z0-9_./$= :-]*$/.test(s) && !s.includes(": ") && !s.endsWith(":")
    ? s
    : JSON.stringify(s);
}

/** Text safe inside a one-line YAML comment: control and line-breaking characters become "?". */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  return text.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]/g, "?");
}
