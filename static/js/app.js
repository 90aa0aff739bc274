// Small behaviours shared by every page. No inline scripts: pages pass data through
// json_script blocks and data-* attributes.
(function () {
  "use strict";

  // htmx requests carry the CSRF token from the meta tag.
  document.body.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });

  // Copy buttons: <button data-copy-target="#id">
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.querySelector(button.dataset.copyTarget);
      if (!target) { return; }
      var text = target.value || target.textContent;
      var done = function () {
        var label = button.innerHTML;
        button.innerHTML = '<i class="bi bi-check2"></i> Copied';
        setTimeout(function () { button.innerHTML = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done);
      } else {
        target.select && target.select();
        document.execCommand("copy");
        done();
      }
    });
  });

  // Tappable rows: <tr data-href="/..."> opens that page on a click or tap anywhere in
  // the row; links, buttons and fields inside it keep their own behaviour, and a click
  // that ends a text selection selects.
  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, input, select, textarea, label")) { return; }
      if (window.getSelection && String(window.getSelection())) { return; }
      window.location.assign(row.dataset.href);
    });
  });

  // Confirm before destructive actions: <form data-confirm="Delete?">. Delegated, so a
  // form inside a part htmx swapped in (a training's Cancel button) asks too.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });
})();
