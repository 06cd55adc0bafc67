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

function procStat(pid: number): { state: string; pgid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so split after the last ')'.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "", pgid: Number(rest[2]) };
  } catch {
    return undefined;
  }
}
