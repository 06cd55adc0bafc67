import { readdirSync, readFileSync } from "node:fs";

/**
 * Whether process `pid` runs. A zombie (dead, not yet reaped by its new parent after we were
 * restarted) does not count, though `kill(pid, 0)` still succeeds on it.
 */
export function processAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = procStat(pid);
  return stat === undefined || stat.state !== "Z";
}

/** Whether any live (non-zombie) process is left in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  if (pgid <= 0) return false;
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return true; // no /proc: trust kill(2)
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = procStat(Number(e));
    if (s && s.pgid === pgid && s.state !== "Z") return true;
  }
  return false;
}

function procStat(pid: number): { state: string; pgid: number; startTime: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so split after the last ')'.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // Field 22 (starttime) is the 20th after the comm.
    return { state: rest[0] ?? "", pgid: Number(rest[2]), startTime: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** When process `pid` started (clock ticks since boot), or undefined when there is no such process. */
export function processStartTime(pid: number): number | undefined {
  const s = procStat(pid);
  return s?.startTime;
}

/**
 * The live processes whose environment holds `name=value` (set by Baton when it spawned them, so
 * inherited by whatever they start), with their process groups. Only processes of this user
 * can be read, which are the only ones Baton could have started.
 */
export function processesWithEnv(
  name: string,
  value: string,
): { pid: number; pgid: number; env: (name: string) => string | undefined }[] {
  const needle = Buffer.from(`\0${name}=${value}\0`);
  const out: { pid: number; pgid: number; env: (name: string) => string | undefined }[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`), Buffer.from([0])]);
    } catch {
      continue;
    }
    if (env.indexOf(needle) < 0) continue;
    const s = procStat(pid);
    const text = env.toString("utf8");
    if (s && s.state !== "Z") out.push({ pid, pgid: s.pgid, env: (n) => envValue(text, n) });
  }
  return out;
}

/** The value of `name` in process `pid`'s environment; undefined when unset or unreadable. */
export function processEnv(pid: number, name: string): string | undefined {
  try {
    return envValue(`\0${readFileSync(`/proc/${pid}/environ`, "utf8")}`, name);
  } catch {
    return undefined;
  }
}

function envValue(nulSeparated: string, name: string): string | undefined {
  const at = nulSeparated.indexOf(`\0${name}=`);
  if (at < 0) return undefined;
  const from = at + name.length + 2;
  const end = nulSeparated.indexOf("\0", from);
  return nulSeparated.slice(from, end < 0 ? undefined : end);
}
