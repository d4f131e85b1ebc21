// Small inline-SVG charts for the acceptance dashboard (no chart library: offline pages).
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function legend(...extra) {
  return el("div", { class: "legend" },
    el("i", { style: "background:#d0d7de" }), "展示",
    el("i", { style: "background:#1a7f37" }), "采纳", ...extra);
}

// rows: [{label, shown, accepted, rate}] as horizontal bar pairs with the rate at the end.
function barChart(title, rows) {
  const labelWidth = 110, width = 420, barMax = width - labelWidth - 105, rowHeight = 26;
  const height = Math.max(rows.length, 1) * rowHeight + 6;
  const max = Math.max(1, ...rows.map((r) => r.shown));
  const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": title });
  rows.forEach((r, i) => {
    const y = i * rowHeight + 4;
    chart.append(
      svg("text", { x: labelWidth - 6, y: y + 14, "text-anchor": "end" }, r.label),
      svg("rect", { class: "bar-shown", x: labelWidth, y, height: 9, width: (r.shown / max) * barMax }),
      svg("rect", { class: "bar-accepted", x: labelWidth, y: y + 10, height: 9, width: (r.accepted / max) * barMax }),
      svg("text", { x: labelWidth + (r.shown / max) * barMax + 4, y: y + 14 }, percent(r.rate) + " (" + r.accepted + "/" + r.shown + ")"),
    );
  });
  if (!rows.length) chart.append(svg("text", { x: 10, y: 18 }, "暂无数据"));
  return el("div", { class: "chart" }, el("h3", {}, title), legend(), chart);
}

// days: [{day, shown, accepted, rate}] as column pairs, with the acceptance rate as a line.
function dayChart(title, days) {
  const width = 420, height = 180, left = 30, bottom = 24, top = 10;
  const plotWidth = width - left - 10, plotHeight = height - bottom - top;
  const max = Math.max(1, ...days.map((d) => d.shown));
  const step = plotWidth / Math.max(days.length, 1);
  const chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": title });
  chart.append(
    svg("line", { class: "axis", x1: left, y1: top + plotHeight, x2: width - 10, y2: top + plotHeight }),
    svg("text", { x: 2, y: top + 8 }, String(max)),
  );
  const points = [];
  days.forEach((d, i) => {
    const barWidth = Math.min(24, Math.max(2, step / 2 - 2));
    const x = left + i * step + step / 2 - barWidth - 1; // the pair centred in its slot
    const shownHeight = (d.shown / max) * plotHeight;
    const acceptedHeight = (d.accepted / max) * plotHeight;
    chart.append(
      svg("rect", { class: "bar-shown", x: x + 1, y: top + plotHeight - shownHeight, width: barWidth, height: shownHeight }),
      svg("rect", { class: "bar-accepted", x: x + 1 + barWidth, y: top + plotHeight - acceptedHeight, width: barWidth, height: acceptedHeight }),
    );
    if (days.length <= 14 || i % Math.ceil(days.length / 14) === 0) {
      chart.append(svg("text", { x: left + i * step + step / 2, y: height - 8, "text-anchor": "middle" }, d.day.slice(5)));
    }
    points.push([left + i * step + step / 2, top + plotHeight - (d.rate || 0) * plotHeight]);
  });
  if (points.length > 1) {
    chart.append(svg("polyline", { class: "line", points: points.map((p) => p.join(",")).join(" ") }));
  }
  for (const [cx, cy] of points) chart.append(svg("circle", { cx, cy, r: 3, fill: "#0969da" }));
  if (!days.length) chart.append(svg("text", { x: left + 10, y: top + 20 }, "暂无数据"));
  return el("div", { class: "chart" }, el("h3", {}, title),
    legend(el("i", { style: "background:#0969da;height:2px" }), "采纳率"), chart);
}
