// The operations dashboard in the admin (templates/admin/operations.html): five charts
// drawn with the vendored Chart.js from the {{ data|json_script:"ops-data" }} block.
(function () {
  "use strict";

  var BLUE = "rgba(13, 110, 253, 0.75)";
  var TEAL = "rgba(32, 201, 151, 0.75)";
  var ORANGE = "rgba(253, 126, 20, 0.85)";
  var RED = "rgba(220, 53, 69, 0.8)";
  var GREY = "rgba(108, 117, 125, 0.8)";

  function title(text) {
    return { display: true, text: text, font: { size: 14, weight: "600" } };
  }

  function axis(text, extra) {
    var options = { title: { display: true, text: text } };
    for (var key in extra || {}) { options[key] = extra[key]; }
    return options;
  }

  // "2026-11-21T22:00:00+00:00" → "11-21 22:00": the hour as the server counted it
  // (its time zone), not converted to the browser's.
  function hourLabel(iso) {
    return iso.slice(5, 10) + " " + iso.slice(11, 13) + ":00";
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new Chart(canvas, config); }
  }

  function start() {
    var source = document.getElementById("ops-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var hours = data.hours.map(hourLabel);
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.animation = false;
    // Fewer labels on a phone, so the hours and days under a chart never overlap.
    var narrow = window.matchMedia("(max-width: 575.98px)").matches;
    var hourTicks = { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: narrow ? 4 : 8 } };

    draw("ops-jobs-per-hour", {
      type: "bar",
      data: {
        labels: hours,
        datasets: [
          { label: "predictions", data: data.jobs_per_hour.predictions, backgroundColor: BLUE },
          { label: "trainings", data: data.jobs_per_hour.trainings, backgroundColor: TEAL }
        ]
      },
      options: {
        plugins: { title: title("Jobs submitted per hour (last " + hours.length + " h)") },
        scales: {
          x: axis("hour (server time zone)", Object.assign({ stacked: true }, hourTicks)),
          y: axis("jobs", { stacked: true, beginAtZero: true, ticks: { precision: 0 } })
        }
      }
    });

    draw("ops-failure-rate", {
      type: "line",
      data: {
        labels: hours,
        datasets: [
          { label: "predictions", data: data.failure_rate.predictions, borderColor: BLUE, backgroundColor: BLUE, spanGaps: false },
          { label: "trainings", data: data.failure_rate.trainings, borderColor: TEAL, backgroundColor: TEAL, spanGaps: false }
        ]
      },
      options: {
        plugins: { title: title("Failure rate per hour (failed ÷ finished)") },
        scales: {
          x: axis("hour the jobs finished", hourTicks),
          y: axis("% of finished jobs that failed", { min: 0, max: 100 })
        }
      }
    });

    draw("ops-queue-wait", {
      type: "line",
      data: {
        labels: hours,
        datasets: [
          { label: "median", data: data.queue_wait.median, borderColor: BLUE, backgroundColor: BLUE },
          { label: "95th percentile", data: data.queue_wait.p95, borderColor: ORANGE, backgroundColor: ORANGE }
        ]
      },
      options: {
        plugins: { title: title("Queue wait: submitted → started (all jobs)") },
        scales: {
          x: axis("hour the jobs started", hourTicks),
          y: axis("seconds", { beginAtZero: true })
        }
      }
    });

    draw("ops-coins", {
      type: "bar",
      data: {
        labels: data.days,
        datasets: [
          { label: "prediction charges", data: data.coins.prediction_charge, backgroundColor: BLUE, stack: "charged" },
          { label: "training fees", data: data.coins.training_fee, backgroundColor: TEAL, stack: "charged" },
          { label: "refunds", data: data.coins.refund, backgroundColor: RED, stack: "refunded" }
        ]
      },
      options: {
        plugins: { title: title("Coins charged and refunded per day (last " + data.days.length + " days)") },
        scales: {
          x: axis("day", { stacked: true, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: narrow ? 5 : 10 } }),
          y: axis("coins", { stacked: true, beginAtZero: true })
        }
      }
    });

    var top = data.top_models;
    draw("ops-top-models", {
      type: "bar",
      data: {
        labels: top.map(function (row) { return row.model; }),
        datasets: [{ label: "predictions", data: top.map(function (row) { return row.predictions; }), backgroundColor: GREY, maxBarThickness: 28 }]
      },
      options: {
        indexAxis: "y",
        plugins: { title: title("Most used models (predictions, last " + data.days.length + " days)"), legend: { display: false } },
        scales: {
          x: axis("predictions", { beginAtZero: true, ticks: { precision: 0 } }),
          y: axis("model")
        }
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
