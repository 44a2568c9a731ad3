// A result that arrives with a page (the test call's) is scrolled into view and focused,
// so on a phone it is not left below the form and a screen reader reads it first.
(function () {
  "use strict";
  var result = document.querySelector("[data-focus-on-load]");
  if (!result) return;
  result.setAttribute("tabindex", "-1");
  result.scrollIntoView({ block: "start" });
  result.focus({ preventScroll: true });
})();
