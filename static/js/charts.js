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

  // The one way numbers are written, as the pages' `number` filter (core/templatetags/ui.py):
  // 41,294.118 · 0.5 · 1.20e-4 · 4.50e+9.
  var plain = new Intl.NumberFormat("en", { maximumFractionDigits: 3 });
  function formatNumber(value) {
    if (value === null || value === undefined || !isFinite(value)) { return "—"; }
    var magnitude = Math.abs(value);
    if (magnitude !== 0 && (magnitude >= 1e9 || magnitude < 1e-3)) { return value.toExponential(2); }
    var text = plain.format(value);
    return text === "-0" ? "0" : text;
  }

  function title(text) {
    return { display: true, text: text, font: { size: 14, weight: "600" } };
  }

  // A column chart's title, shortened to the canvas (a title is never wrapped).
  function columnTitle(canvas, name, suffix) {
    var width = canvas.parentElement.clientWidth || 300;
    var room = Math.max(12, Math.floor(width / 8.5) - suffix.length);
    return title(shorten(name, room) + suffix);
  }

  function missingNote(column) {
    if (!column.missing) { return { display: true, text: "no missing values", padding: { bottom: 6 } }; }
    var percent = column.missing_pct !== undefined ? " (" + formatNumber(column.missing_pct) + "%)" : "";
    return { display: true, text: formatNumber(column.missing) + " missing" + percent, color: "#b02a37", padding: { bottom: 6 } };
  }

  // Characters a category label may take on this canvas: long labels would push the
  // bars off a phone screen, so they are shortened (the tooltip has them whole).
  function labelRoom(canvas) {
    var width = canvas.parentElement.clientWidth || 300;
    return Math.max(8, Math.min(28, Math.floor(width / 16)));
  }

  // Padding so the last tick label and the axis titles are never cut at the edge.
  var PADDING = { left: 4, right: 16, top: 0, bottom: 4 };
  var countTicks = { precision: 0, callback: function (value) { return formatNumber(value); } };

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

  function valuesChart(canvas, column) {
    // A numeric column with few distinct values: one bar per value, in value order.
    var items = column.values || [];
    return new Chart(canvas, {
      type: "bar",
      data: { labels: items.map(function (item) { return formatNumber(item.value); }), datasets: [{ label: "rows", data: items.map(function (item) { return item.count; }), backgroundColor: BLUE }] },
      options: {
        layout: { padding: PADDING },
        plugins: {
          title: columnTitle(canvas, column.name, " — rows per value"),
          subtitle: missingNote(column),
          legend: { display: false },
          tooltip: { callbacks: { title: function (items) { return column.name + " = " + items[0].label; }, label: function (context) { return formatNumber(context.raw) + " rows"; } } }
        },
        scales: { x: axis(column.name, { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } }), y: axis("rows", { beginAtZero: true, ticks: countTicks }) }
      }
    });
  }

  function columnChart(canvas, column) {
    setHeight(canvas, 260);
    var chart = column.chart || (column.kind === "numeric" ? "histogram" : "top");
    if (chart === "none") { return null; }
    if (chart === "values") { return valuesChart(canvas, column); }
    if (chart === "histogram") {
      var edges = column.histogram.edges;
      // Short tick labels (the bin's lower edge); the tooltip gives the exact range.
      var labels = column.histogram.counts.map(function (_, i) { return formatNumber(edges[i]); });
      var ranges = column.histogram.counts.map(function (_, i) {
        return formatNumber(edges[i]) + " – " + formatNumber(edges[i + 1]);
      });
      return new Chart(canvas, {
        type: "bar",
        data: { labels: labels, datasets: [{ label: "rows", data: column.histogram.counts, backgroundColor: BLUE, barPercentage: 1, categoryPercentage: 1 }] },
        options: {
          layout: { padding: PADDING },
          plugins: {
            title: columnTitle(canvas, column.name, " — distribution"),
            subtitle: missingNote(column),
            legend: { display: false },
            tooltip: { callbacks: { title: function (items) { return column.name + " " + ranges[items[0].dataIndex]; }, label: function (context) { return formatNumber(context.raw) + " rows"; } } }
          },
          scales: { x: axis(column.name + " (bin start)", { ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 8 } }), y: axis("rows", { beginAtZero: true, ticks: countTicks }) }
        }
      });
    }
    var top = column.top || [];
    var values = top.map(function (item) { return item.value === "" ? "(empty)" : item.value; });
    var room = labelRoom(canvas);
    var shortLabels = values.map(function (value) { return shorten(value, room); });
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
        layout: { padding: PADDING },
        plugins: {
          title: columnTitle(canvas, column.name, " — most frequent values"),
          subtitle: missingNote(column),
          legend: { display: false },
          tooltip: { callbacks: { title: function (items) { return values[items[0].dataIndex]; }, label: function (context) { return formatNumber(context.raw) + " rows"; } } }
        },
        scales: { x: axis("rows", { beginAtZero: true, ticks: countTicks }), y: axis(column.name, { ticks: { autoSkip: false } }) }
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

  // One colour per compared model, told apart also by the legend's names.
  var SERIES = ["rgb(13, 110, 253)", "rgb(220, 53, 69)", "rgb(25, 135, 84)", "rgb(253, 126, 20)", "rgb(111, 66, 193)", "rgb(32, 201, 151)"];

  function rocCompareChart(canvas, curves) {
    setHeight(canvas, 340);
    var datasets = curves.map(function (curve, i) {
      return {
        label: shorten(curve.name, 30) + " (AUC " + formatNumber(curve.roc.auc) + ")",
        data: curve.roc.fpr.map(function (x, j) { return { x: x, y: curve.roc.tpr[j] }; }),
        showLine: true, borderColor: SERIES[i % SERIES.length], backgroundColor: SERIES[i % SERIES.length], pointRadius: 0, borderWidth: 2
      };
    });
    datasets.push({ label: "chance", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: GREY, borderDash: [6, 4], pointRadius: 0, borderWidth: 1 });
    return new Chart(canvas, {
      type: "scatter",
      data: { datasets: datasets },
      options: {
        layout: { padding: PADDING },
        plugins: { title: title("ROC curves"), legend: { position: "bottom" } },
        scales: { x: axis("False positive rate", { min: 0, max: 1 }), y: axis("True positive rate", { min: 0, max: 1 }) }
      }
    });
  }

  function importanceCompareChart(canvas, models) {
    // The features most important to any of the models, in the first model's order.
    var order = [];
    models.forEach(function (model) {
      model.rows.slice(0, 15).forEach(function (row) { if (order.indexOf(row.feature) < 0) { order.push(row.feature); } });
    });
    order = order.slice(0, 20);
    setHeight(canvas, Math.max(260, order.length * (12 * models.length + 8) + 110));
    var room = labelRoom(canvas);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: order.map(function (feature) { return shorten(feature, room); }),
        datasets: models.map(function (model, i) {
          var byFeature = {};
          model.rows.forEach(function (row) { byFeature[row.feature] = row.importance; });
          return { label: shorten(model.name, 30), data: order.map(function (feature) { return byFeature[feature] === undefined ? null : byFeature[feature]; }), backgroundColor: SERIES[i % SERIES.length] };
        })
      },
      options: {
        indexAxis: "y",
        layout: { padding: PADDING },
        plugins: {
          title: title("Feature importance"),
          legend: { position: "bottom" },
          tooltip: { callbacks: { title: function (items) { return order[items[0].dataIndex]; }, label: function (context) { return context.dataset.label + ": " + formatNumber(context.raw); } } }
        },
        scales: { x: axis("Drop in score when the column is shuffled"), y: { ticks: { autoSkip: false } } }
      }
    });
  }

  // Training against recent shares on the same bins (drift: monitoring.distributions).
  function distributionChart(canvas, item) {
    if (!item) { return null; }
    var room = labelRoom(canvas);
    var labels = item.bins.map(function (bin) { return bin.label; });
    var suffix = item.psi === undefined ? "" : " · PSI " + formatNumber(item.psi);
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels.map(function (label) { return shorten(label, room); }),
        datasets: [
          { label: "training", data: item.bins.map(function (bin) { return bin.training * 100; }), backgroundColor: GREY },
          { label: "recent", data: item.bins.map(function (bin) { return bin.recent * 100; }), backgroundColor: BLUE }
        ]
      },
      options: {
        layout: { padding: PADDING },
        plugins: {
          title: columnTitle(canvas, item.name, suffix),
          legend: { position: "bottom" },
          tooltip: { callbacks: { title: function (items) { return labels[items[0].dataIndex]; }, label: function (context) { return context.dataset.label + ": " + formatNumber(context.raw) + " %"; } } }
        },
        scales: { y: axis("% of rows", { min: 0 }) }
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
      case "roc-compare": rocCompareChart(canvas, data); break;
      case "importance-compare": importanceCompareChart(canvas, data); break;
      case "distribution": distributionChart(canvas, data[Number(canvas.dataset.index)]); break;
    }
  });
})();
