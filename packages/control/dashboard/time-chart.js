// One live uPlot chart of a metric, one line per version. Colour is not the only signal: each
// version also has its own dash pattern and its name in the legend and the summary text.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./html.js";

const COLOURS = ["#0b5cad", "#b35900", "#6f42c1", "#1a7f37", "#b3261e"];
const DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3], [4, 4]];

export function versionStyle(index) {
  return { stroke: COLOURS[index % COLOURS.length], dash: DASHES[index % DASHES.length] };
}

export function TimeChart({ id, title, unit, metric, history, versions }) {
  const box = useRef(null);
  const plot = useRef(null);
  const shape = useRef("");

  useEffect(() => {
    const data = [history.times, ...versions.map((v) => history.versions.get(v)?.[metric] ?? [])];
    const key = versions.join("\u0000");
    if (plot.current && shape.current === key) {
      plot.current.setData(data);
      return;
    }
    plot.current?.destroy();
    shape.current = key;
    const width = Math.max(280, box.current.clientWidth || 560);
    plot.current = new uPlot(
      {
        width,
        height: 170,
        legend: { show: true, live: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1] } },
        axes: [{}, { size: 56, values: (_u, ticks) => ticks.map((t) => `${+t.toFixed(2)}${unit}`) }],
        series: [
          {},
          ...versions.map((v, i) => ({ label: v, width: 2, spanGaps: false, ...versionStyle(i) })),
        ],
      },
      data,
      box.current,
    );
  });
  useEffect(() => () => plot.current?.destroy(), []);

  const latest = versions
    .map((v) => {
      const points = history.versions.get(v)?.[metric] ?? [];
      const last = points[points.length - 1];
      return `${v}: ${last === null || last === undefined ? "no traffic" : `${+last.toFixed(2)}${unit}`}`;
    })
    .join(", ");
  return html`<figure class="chart" aria-labelledby=${`${id}-title`}>
    <figcaption id=${`${id}-title`}><strong>${title}</strong> <span class="now">now: ${latest || "no traffic yet"}</span></figcaption>
    <div ref=${box} class="plot" aria-hidden="true"></div>
  </figure>`;
}
