// The Messages tab's preview as you type: the form is posted as a Preview (nothing is saved)
// and each template's preview and problems are taken from the answer. The server renders and
// judges; without this script the Preview button does the same.
(function () {
  "use strict";
  var form = document.querySelector("form.messages");
  if (!form || !window.fetch || !window.DOMParser) return;
  var timer = null;
  var inFlight = null;
  function refresh() {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    // `form.action` would be the button named "action": the attribute is the URL.
    fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin", signal: inFlight.signal })
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (!html) return;
        var page = new DOMParser().parseFromString(html, "text/html");
        form.querySelectorAll("fieldset.template").forEach(function (fieldset) {
          var fresh = page.getElementById(fieldset.id);
          if (!fresh) return;
          fieldset.classList.toggle("invalid", fresh.classList.contains("invalid"));
          ["-status", "-preview"].forEach(function (suffix) {
            var mine = document.getElementById(fieldset.id + suffix);
            var theirs = page.getElementById(fieldset.id + suffix);
            if (mine && theirs) mine.replaceChildren.apply(mine, Array.from(theirs.childNodes));
          });
        });
      })
      .catch(function () { /* offline or superseded: the Preview button still works */ });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 400);
  });
})();
