// A process's memory and CPU from /proc: RSS (VmRSS in /proc/<pid>/status) sampled every second,
// and the CPU time it used (utime + stime in /proc/<pid>/stat) over a window. Linux only.

import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) `pid` has used so far. */
export function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command (which may contain spaces) in parentheses: state is field 3,
  // utime field 14 and stime field 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size of `pid` in MiB. */
export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Number.NaN;
};

/**
 * Watches `pid` for `seconds`: RSS every second (median, max, first, last) and the CPU it used,
 * as a percentage of one core.
 */
export async function watchProcess(pid, seconds) {
  const rss = [rssMiB(pid)];
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    rss.push(rssMiB(pid));
  }
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = cpuSeconds(pid) - cpu0;
  return {
    seconds: elapsed,
    cpuSeconds: used,
    cpuPercent: (100 * used) / elapsed,
    rssMedian: median(rss),
    rssMax: Math.max(...rss),
    rssFirst: rss[0],
    rssLast: rss[rss.length - 1],
  };
}
