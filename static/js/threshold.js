// The decision-threshold slider of a binary model's page: precision, recall, F1,
// accuracy and the confusion matrix at the chosen cut-off, from the holdout counts
// stored at training time ({{ metrics.threshold_counts|json_script }}).
(function () {
  "use strict";
  var slider = document.getElementById("threshold");
  var source = slider && document.getElementById(slider.dataset.source);
  if (!source) { return; }
  var counts = JSON.parse(source.textContent);
  var output = document.getElementById("threshold-value");
  var number = new Intl.NumberFormat("en");

  function ratio(top, bottom) {
    return bottom ? (top / bottom).toFixed(3) : "—";
  }

  function set(name, text) {
    document.querySelectorAll('[data-threshold="' + name + '"]').forEach(function (element) {
      element.textContent = text;
    });
  }

  function update() {
    var index = Math.round(Number(slider.value) * (counts.thresholds.length - 1));
    var tp = counts.tp[index], fp = counts.fp[index], fn = counts.fn[index], tn = counts.tn[index];
    output.textContent = counts.thresholds[index].toFixed(2);
    set("precision", ratio(tp, tp + fp));
    set("recall", ratio(tp, tp + fn));
    set("f1", ratio(2 * tp, 2 * tp + fp + fn));
    set("accuracy", ratio(tp + tn, tp + tn + fp + fn));
    set("tp", number.format(tp)); set("fp", number.format(fp));
    set("fn", number.format(fn)); set("tn", number.format(tn));
  }

  slider.addEventListener("input", update);
  update();
})();
