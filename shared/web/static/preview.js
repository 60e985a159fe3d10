// The naming pattern's preview as you type; the server renders it again on save and is the
// judge. Without this script the page works the same, minus the live preview.
(function () {
  "use strict";
  var input = document.getElementById("naming_pattern");
  var out = document.getElementById("naming-preview");
  if (!input || !out) return;
  var sample = { series_name: "GT3 Sprint", event_name: "Spa 6 Hours", subject_id: "evt-42", kind: "event", date: "2026-12-05" };
  function render() {
    var unknown = null;
    var text = input.value.replace(/\{([^{}]*)\}/g, function (_, name) {
      if (!Object.prototype.hasOwnProperty.call(sample, name)) { unknown = unknown || name; return ""; }
      return sample[name];
    });
    if (unknown !== null) { out.textContent = "Unknown placeholder {" + unknown + "}"; return; }
    var name = text.trim().toLowerCase().split(/\s+/).filter(Boolean).join("-");
    out.textContent = name ? "Sample channel: #" + name : "The pattern makes an empty name";
  }
  input.addEventListener("input", render);
})();
