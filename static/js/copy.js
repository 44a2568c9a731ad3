// Copy buttons next to carrier values. Without JavaScript the buttons stay hidden and a
// click on a value selects all of it (CSS user-select: all), ready for Ctrl+C.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function announce(text) {
    if (status) status.textContent = text;
  }

  function copyByHand(text) {  // for pages not served over HTTPS (no Clipboard API)
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function setup(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = button.querySelector(".copy-button__text");
    var label = button.getAttribute("data-label") || "Value";
    var timer = null;

    function done(ok) {
      text.textContent = ok ? "Copied" : "Copy";
      button.classList.toggle("copy-button--done", ok);
      announce(ok ? label + " copied." : "Could not copy. Select the value and copy it by hand.");
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        text.textContent = "Copy";
        button.classList.remove("copy-button--done");
      }, 2500);
    }

    button.addEventListener("click", function () {
      var value = source.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(value).then(
          function () { done(true); },
          function () { done(copyByHand(value)); });
      } else {
        done(copyByHand(value));
      }
    });
    button.hidden = false;
  }

  Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), setup);
})();
