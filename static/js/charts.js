// Charts for dataset profiles and model metrics (Chart.js, vendored).
// Each chart is a <canvas data-chart="kind" data-source="id-of-json_script-block">;
// the data comes from a {{ value|json_script:"id" }} block, never from inline script.
(function () {
  "use strict";
  if (typeof Chart === "undefined") { return; }

  var BLUE = "rgba(13, 110, 253, 0.75)";
  var BLUE_LINE = "rgb(13, 110, 253)";
  var GREY = "rgba(108, 117, 125, 0.6)";
  var RED = "rgba(220, 53, 69, 0.6)";

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function readJson(id) {
    var element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function formatNumber(value) {
    if (value === null || value === undefined) { return "—"; }
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude >= 1e6 || magnitude < 1e-3)) { return value.toExponential(2); }
    return String(Math.round(value * 1000) / 1000);
  }

  function title(text) {
    return { display: true, text: text, font: { size: 14, weight: "600" } };
  }

  // Axis ticks: 41294.1 → "41.3K", 0.00042 → "0.00042".
  var compact = new Intl.NumberFormat("en", { notation: "compact", maximumSignificantDigits: 3 });
  function formatCompact(value) {
    if (value === null || value === undefined) { return "—"; }
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && magnitude < 1e-3) { return value.toExponential(1); }
    return compact.format(value);
  }

  function missingNote(column) {
    if (!column.missing) { return { display: true, text: "no missing values", padding: { bottom: 6 } }; }
    var percent = column.missing_pct !== undefined ? " (" + column.missing_pct + "%)" : "";
    return { display: true, text: column.missing + " missing" + percent, color: "#b02a37", padding: { bottom: 6 } };
  }

  function axis(text, extra) {
    var options = { title: { display: true, text: text } };
    for (var key in extra || {}) { options[key] = extra[key]; }
    return options;
  }

  function shorten(text, length) {
    text = String(text);
    return text.length > length ? text.slice(0, length - 1) + "…" : text;
  }

  function setHeight(canvas, pixels) {
    canvas.parentElement.style.height = pixels + "px";
  }

  function columnChart(canvas, column) {
    setHeight(canvas, 260);
    if (column.kind === "numeric") {
      var edges = column.histogram.edges;
      // Short tick labels (the bin's lower edge); the tooltip gives the exact range.
      var labels = column.histogram.counts.map(function (_, i) { return formatCompact(edges[i]); });
      var ranges = column.histogram.counts.map(function (_, i) {
        return formatNumber(edges[i]) + " – " + formatNumber(edges[i + 1]);
      });
      return new Chart(canvas, {
        type: "bar",
        data: { labels: labels, datasets: [{ label: "rows", data: column.histogram.counts, backgroundColor: BLUE, barPercentage: 1, categoryPercentage: 1 }] },
        options: {
          plugins: {
            title: title(column.name + " — distribution"),
            subtitle: missingNote(column),
            legend: { display: false },
            tooltip: { callbacks: { title: function (items) { return column.name + " " + ranges[items[0].dataIndex]; } } }
          },
          scales: { x: axis(column.name + " (bin start)", { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } }), y: axis("rows", { beginAtZero: true }) }
        }
      });
    }
    var top = column.top || [];
    var values = top.map(function (item) { return item.value === "" ? "(empty)" : item.value; });
    var shortLabels = values.map(function (value) { return shorten(value, 24); });
    var counts = top.map(function (item) { return item.count; });
    var colors = top.map(function () { return BLUE; });
    if (column.other_count) {
      values.push("(all others)"); shortLabels.push("(all others)"); counts.push(column.other_count); colors.push(GREY);
    }
    setHeight(canvas, Math.max(200, 24 * values.length + 90));
    return new Chart(canvas, {
      type: "bar",
      data: { labels: shortLabels, datasets: [{ label: "rows", data: counts, backgroundColor: colors }] },
      options: {
        indexAxis: "y",
        plugins: {
          title: title(column.name + " — most frequent values"),
          subtitle: missingNote(column),
          legend: { display: false },
          tooltip: { callbacks: { title: function (items) { return values[items[0].dataIndex]; } } }
        },
        scales: { x: axis("rows", { beginAtZero: true }), y: axis(column.name, { ticks: { autoSkip: false } }) }
      }
    });
  }

  function rocChart(canvas, roc) {
    setHeight(canvas, 300);
    var points = roc.fpr.map(function (x, i) { return { x: x, y: roc.tpr[i] }; });
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "model", data: points, showLine: true, borderColor: BLUE_LINE, backgroundColor: BLUE_LINE, pointRadius: 0, borderWidth: 2 },
        { label: "chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: GREY, borderDash: [6, 4], pointRadius: 0, borderWidth: 1 }
      ] },
      options: {
        plugins: { title: title("ROC curve (AUC " + formatNumber(roc.auc) + ")") },
        scales: { x: axis("False positive rate", { min: 0, max: 1 }), y: axis("True positive rate", { min: 0, max: 1 }) }
      }
    });
  }

  function residualChart(canvas, residuals) {
    setHeight(canvas, 300);
    var points = residuals.predicted.map(function (x, i) { return { x: x, y: residuals.residual[i] }; });
    var xs = residuals.predicted.filter(function (v) { return v !== null; });
    var low = Math.min.apply(null, xs), high = Math.max.apply(null, xs);
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "holdout rows", data: points, backgroundColor: BLUE, pointRadius: 3 },
        { label: "zero error", data: [{ x: low, y: 0 }, { x: high, y: 0 }], showLine: true, borderColor: RED, pointRadius: 0, borderWidth: 1 }
      ] },
      options: {
        plugins: { title: title("Residuals (actual − predicted)") },
        scales: { x: axis("Predicted value"), y: axis("Residual") }
      }
    });
  }

  function actualChart(canvas, residuals) {
    setHeight(canvas, 300);
    var points = residuals.predicted.map(function (x, i) { return { x: x, y: residuals.actual[i] }; });
    var all = residuals.predicted.concat(residuals.actual).filter(function (v) { return v !== null; });
    var low = Math.min.apply(null, all), high = Math.max.apply(null, all);
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: [
        { label: "holdout rows", data: points, backgroundColor: BLUE, pointRadius: 3 },
        { label: "perfect prediction", data: [{ x: low, y: low }, { x: high, y: high }], showLine: true, borderColor: GREY, borderDash: [6, 4], pointRadius: 0, borderWidth: 1 }
      ] },
      options: {
        plugins: { title: title("Actual against predicted") },
        scales: { x: axis("Predicted value"), y: axis("Actual value") }
      }
    });
  }

  function importanceChart(canvas, rows) {
    var shown = rows.slice(0, 30);
    setHeight(canvas, Math.max(220, 22 * shown.length + 90));
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: shown.map(function (row) { return shorten(row.feature, 28); }),
        datasets: [{
          label: "importance",
          data: shown.map(function (row) { return row.importance; }),
          backgroundColor: shown.map(function (row) { return (row.importance || 0) < 0 ? RED : BLUE; })
        }]
      },
      options: {
        indexAxis: "y",
        plugins: {
          title: title("Feature importance" + (rows.length > shown.length ? " (top " + shown.length + " of " + rows.length + ")" : "")),
          legend: { display: false },
          tooltip: { callbacks: { label: function (context) {
            var row = shown[context.dataIndex];
            return "importance " + formatNumber(row.importance) + " ± " + formatNumber(row.std);
          } } }
        },
        scales: { x: axis("Drop in score when the column is shuffled"), y: axis("Column", { ticks: { autoSkip: false } }) }
      }
    });
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var data = readJson(canvas.dataset.source);
    if (!data) { return; }
    switch (canvas.dataset.chart) {
      case "column": columnChart(canvas, data[Number(canvas.dataset.index)]); break;
      case "roc": rocChart(canvas, data); break;
      case "residuals": residualChart(canvas, data); break;
      case "actual-vs-predicted": actualChart(canvas, data); break;
      case "importance": importanceChart(canvas, data); break;
    }
  });
})();
