// One release's data from the API (`path` under /v1/releases/{id}), read again every 2 s while
// the release runs and whenever it changes: the analysis over time and the timeline use it.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { inFlight } from "../format.js";

export function useReleaseData(release, path) {
  const [data, setData] = useState(null);
  const [problem, setProblem] = useState(null);
  const running = inFlight(release);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      api("GET", `/v1/releases/${release.id}/${path}`).then(
        (d) => {
          if (stopped) return;
          setData(d);
          setProblem(null);
        },
        (e) => !stopped && setProblem(e.message),
      );
    load();
    const timer = running ? setInterval(load, 2000) : undefined;
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [release.id, path, running, release.updatedAt]);
  return { data, problem, running };
}
