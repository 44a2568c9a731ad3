// Signup: send the browser's own time zone, so the new clinic starts in it (it can be
// changed in the clinic's details). Without JavaScript the field stays empty: UTC.
(function () {
  "use strict";
  var field = document.querySelector("input[data-browser-tz]");
  if (!field || !window.Intl) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    field.value = "";
  }
})();
