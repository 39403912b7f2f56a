// Learning curves on the run page: one uPlot chart per group of series (by the name before
// the last dot: "trial0.cnn.train_loss" and "trial0.cnn.val_loss" share a chart), redrawn
// every 3 s while the run is live. No inline script: the page only carries data attributes.
(function () {
  "use strict";

  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777",
                  "#65a30d", "#92400e", "#475569"];

  function groupOf(key) {
    const cut = key.lastIndexOf(".");
    return cut > 0 ? key.slice(0, cut) : key;
  }

  function draw(container, payload) {
    const groups = new Map();
    for (const [key, points] of Object.entries(payload.series)) {
      const group = groupOf(key);
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push([key, points]);
    }
    container.replaceChildren();
    if (groups.size === 0) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = "No curves recorded yet.";
      container.appendChild(empty);
      return;
    }
    const width = Math.max(320, Math.min(560, container.clientWidth - 20));
    for (const [group, members] of groups) {
      const box = document.createElement("div");
      box.className = "chart";
      const title = document.createElement("h3");
      title.textContent = group;
      box.appendChild(title);
      container.appendChild(box);
      // one x axis (the union of steps); a series missing a step leaves a gap
      const steps = [...new Set(members.flatMap(([, p]) => p[0]))].sort((a, b) => a - b);
      const data = [steps];
      const series = [{ label: "step" }];
      members.forEach(([key, points], i) => {
        const at = new Map(points[0].map((step, j) => [step, points[1][j]]));
        data.push(steps.map((step) => (at.has(step) ? at.get(step) : null)));
        series.push({ label: key.slice(group.length + 1) || key, stroke: COLORS[i % COLORS.length],
                      width: 2, points: { show: steps.length < 40 } });
      });
      new uPlot({ width: width, height: 240, series: series, scales: { x: { time: false } },
                  axes: [{ label: "step" }, {}] }, data, box);
    }
  }

  function load(container) {
    fetch(container.dataset.seriesUrl, { credentials: "same-origin" })
      .then((answer) => (answer.ok ? answer.json() : null))
      .then((payload) => {
        if (payload === null) return;
        draw(container, payload);
        if (payload.status === "running" || payload.status === "queued") {
          setTimeout(() => load(container), 3000);
        }
      })
      .catch(() => setTimeout(() => load(container), 5000));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-series-url]").forEach(load);
  });
})();
