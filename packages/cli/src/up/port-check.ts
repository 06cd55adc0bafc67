import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

export { freePort } from "@baton/control";

/** A port `baton up` needs is held by something else; nothing was started. */
export class PortInUseError extends Error {
  readonly code = "BATON_PORT_IN_USE";
}

/** Whether `host:port` can be listened on now (tried for real, then released at once). */
export function portIsFree(host: string, port: number): Promise<boolean> {
  return tryListen(host, port).then(
    () => true,
    () => false,
  );
}

/**
 * Checks, before anything starts, that `host:port` can be listened on. When it cannot, the error
 * says which port, for what, what holds it (pid and command, when /proc tells), and how to choose
 * another: the operator reading it should not need to look anything up.
 */
export async function assertPortFree(
  host: string,
  port: number,
  what: string,
  change: string,
): Promise<void> {
  const problem = await portProblem(host, port, what);
  if (problem) throw new PortInUseError(`${problem}. Nothing was started. Stop that process, or ${change}`);
}

/** Why `host:port` cannot be listened on now (naming `what` it is for), or undefined if it can. */
export async function portProblem(host: string, port: number, what: string): Promise<string | undefined> {
  if (port === 0) return undefined; // any free port
  try {
    await tryListen(host, port);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const holder = code === "EADDRINUSE" ? portHolder(port) : undefined;
    const reason =
      code === "EADDRINUSE"
        ? `is already in use${holder ? ` by pid ${holder.pid} (${holder.command})` : " (by a process this user cannot see)"}`
        : code === "EACCES"
          ? "needs privileges to listen on (ports below 1024 are for root)"
          : code === "EADDRNOTAVAIL"
            ? `cannot be listened on: ${host} is not an address of this machine`
            : `cannot be listened on (${code ?? (err as Error).message})`;
    return `${what}: port ${port} on ${host} ${reason}`;
  }
}

function tryListen(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    // exclusive: a port shared through the cluster module's handle would not count as free.
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve()));
  });
}

/**
 * The process listening on TCP `port` (any address), from Linux's /proc: the socket's inode in
 * /proc/net/tcp{,6}, then the process holding that inode among its file descriptors. Undefined
 * elsewhere or when it belongs to a user whose /proc entries this one cannot read.
 */
export function portHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      const local = f[1]?.split(":")[1];
      if (local && Number.parseInt(local, 16) === port && f[3] === "0A" && f[9] && f[9] !== "0")
        inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) return { pid: Number(pid), command: command(Number(pid)) };
    }
  }
  return undefined;
}

function command(pid: number): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const text = args.join(" ");
    return text.length > 120 ? `${text.slice(0, 117)}...` : text || "?";
  } catch {
    return "?";
  }
}
