// Experiments: the cost preview of the "Find the best model" form, and the chart of
// each trial's score with the best so far. Data comes from data-* attributes and a
// json_script block (no inline scripts); the chart follows the leaderboard as htmx
// swaps it in while the search runs.
(function () {
  "use strict";

  // --- The form: price per trial × trials, as one types.
  document.body.addEventListener("input", function (event) {
    if (!event.target || event.target.name !== "max_trials") { return; }
    // Looked up each time: htmx re-renders the form when the dataset changes.
    var cost = document.getElementById("experiment-cost");
    if (!cost || !cost.dataset.price) { return; }
    var trials = Number(event.target.value);
    var known = event.target.value !== "" && Number.isInteger(trials) && trials > 0;
    var total = known ? (Number(cost.dataset.price) * trials) : null;
    cost.querySelector("[data-cost-trials]").textContent = known ? String(trials) : "?";
    cost.querySelector("[data-cost-total]").textContent = total === null ? "?" :
      total.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  });

  // --- The chart.
  var canvas = document.getElementById("experiment-chart");
  if (!canvas || typeof Chart === "undefined") { return; }
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function read() {
    var element = document.getElementById(canvas.dataset.source);
    return element ? JSON.parse(element.textContent) : null;
  }

  var data = read();
  if (!data) { return; }
  canvas.parentElement.style.height = "300px";
  var chart = new Chart(canvas, {
    type: "scatter",
    data: { datasets: [
      { label: "trial", data: data.points, backgroundColor: "rgba(13, 110, 253, 0.6)", pointRadius: 4 },
      { label: "best so far", data: data.best, showLine: true, stepped: "before", borderColor: "rgb(25, 135, 84)",
        backgroundColor: "rgb(25, 135, 84)", pointRadius: 0, borderWidth: 2 }
    ] },
    options: {
      plugins: {
        title: { display: true, text: data.metric + " by trial (cross-validated)", font: { size: 14, weight: "600" } },
        subtitle: { display: data.points.length === 0, text: data.empty }
      },
      scales: {
        x: { title: { display: true, text: "Trial" }, ticks: { precision: 0 } },
        y: { title: { display: true, text: data.metric } }
      }
    }
  });

  // The status poll swaps the leaderboard (and this data) in out of band.
  document.body.addEventListener("htmx:afterSettle", function () {
    var fresh = read();
    if (!fresh) { return; }
    chart.data.datasets[0].data = fresh.points;
    chart.data.datasets[1].data = fresh.best;
    chart.options.plugins.subtitle.display = fresh.points.length === 0;
    chart.update();
  });
})();
