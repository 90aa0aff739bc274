// The predict page: quote the cost of a CSV file or a JSON box before it is sent.
// The rule is the service's (billing.services.cost_quote): price per request + rows ×
// price per row, rounded UP to the next 0.01.
// The server counts again exactly (and charges only what it counted); this is a quote.
(function () {
  "use strict";

  // Exact decimal arithmetic with BigInt: a price has at most 4 decimal places.
  function priceUnits(price) {
    var parts = String(price).trim().split(".");
    var decimals = (parts[1] || "").padEnd(4, "0").slice(0, 4);
    return BigInt(parts[0] || "0") * 10000n + BigInt(decimals || "0");
  }

  function costOf(rows, price, perRequest) {
    // ten-thousandths of a coin
    var units = priceUnits(perRequest || "0") + BigInt(rows) * priceUnits(price);
    var cents = (units + 99n) / 100n; // round up to a cent
    var whole = cents / 100n;
    var rest = String(cents % 100n).padStart(2, "0");
    return whole.toString() + "." + rest;
  }

  function show(form, kind, text) {
    var target = form.querySelector('[data-cost-for="' + kind + '"]');
    if (target) { target.textContent = text; }
  }

  function flatPart(form) {
    var perRequest = Number(form.dataset.pricePerRequest || "0");
    return perRequest ? perRequest + " per request + " : "";
  }

  function perRowsOnly(form) {
    var perRequest = Number(form.dataset.pricePerRequest || "0");
    return "Cost: " + (perRequest ? perRequest + " + " : "") + "rows × " + Number(form.dataset.price) + " coins.";
  }

  function quote(rows, form, approximate) {
    var max = parseInt(form.dataset.maxRows || "0", 10);
    var text = "Cost: " + (approximate ? "about " : "") +
      costOf(rows, form.dataset.price, form.dataset.pricePerRequest) + " coins (" + flatPart(form) +
      rows.toLocaleString() + " row" + (rows === 1 ? "" : "s") + " × " + Number(form.dataset.price) + ")";
    if (max && rows > max) { text += " — more than the limit of " + max.toLocaleString() + " rows"; }
    return text;
  }

  // CSV: count the lines after the header, streaming, so a large file is not loaded
  // whole. Quoted cells spanning lines and blank lines make this an estimate.
  function countCsvRows(file) {
    var lines = 0;
    var lastByte = 10;
    var reader = file.stream().getReader();
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          if (lastByte !== 10) { lines += 1; } // no newline after the last line
          return Math.max(lines - 1, 0);
        }
        var bytes = chunk.value;
        for (var index = 0; index < bytes.length; index++) {
          if (bytes[index] === 10) { lines += 1; }
        }
        if (bytes.length) { lastByte = bytes[bytes.length - 1]; }
        return pump();
      });
    }
    return pump();
  }

  // "Fill example": typical values from the training data (data-example on each field).
  // Delegated, because htmx replaces the one-row form with each answer.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("#fill-example") : null;
    if (!button) { return; }
    var form = button.closest("form");
    form.querySelectorAll("[data-example]").forEach(function (field) {
      field.value = field.getAttribute("data-example");
      field.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });

  var csvForm = document.getElementById("csv-form");
  if (csvForm) {
    var fileInput = csvForm.querySelector('input[type="file"]');
    if (fileInput) {
      fileInput.addEventListener("change", function () {
        var file = fileInput.files && fileInput.files[0];
        if (!file || !file.stream) { show(csvForm, "csv", perRowsOnly(csvForm)); return; }
        show(csvForm, "csv", "Counting rows…");
        countCsvRows(file).then(function (rows) {
          show(csvForm, "csv", rows ? quote(rows, csvForm, true) : "The file has no data rows.");
        }, function () {
          show(csvForm, "csv", perRowsOnly(csvForm));
        });
      });
    }
  }

  var jsonForm = document.getElementById("json-form");
  if (jsonForm) {
    var box = jsonForm.querySelector("textarea");
    var update = function () {
      var text = box.value.trim();
      if (!text) { show(jsonForm, "json", perRowsOnly(jsonForm)); return; }
      var value;
      try { value = JSON.parse(text); } catch (error) {
        show(jsonForm, "json", "Not valid JSON yet.");
        return;
      }
      var rows = Array.isArray(value) ? value.length : (value !== null && typeof value === "object" ? 1 : 0);
      show(jsonForm, "json", rows ? quote(rows, jsonForm, false) : "Send one object or a list of objects.");
    };
    if (box) {
      box.addEventListener("input", update);
      update();
    }
  }
})();
