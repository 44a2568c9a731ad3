// A search box for the time zone list: typing a city, a country or a zone name narrows
// the <select> to the matching zones and picks the first of them. Without JavaScript the
// <select> still works (common zones first, then every zone by country).
(function () {
  "use strict";

  function fold(text) {
    return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/_/g, " ");
  }

  function enhance(select) {
    var id = select.id + "_search";
    var wrap = document.createElement("div");
    wrap.className = "tz-search";
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = "Search time zones";
    var input = document.createElement("input");
    input.type = "search";
    input.id = id;
    input.autocomplete = "off";
    input.placeholder = "City or country, e.g. Chicago";
    input.setAttribute("aria-controls", select.id);
    var status = document.createElement("p");
    status.className = "helptext";
    status.id = id + "_status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    input.setAttribute("aria-describedby", status.id);
    wrap.appendChild(label);
    wrap.appendChild(input);
    wrap.appendChild(status);
    select.parentNode.insertBefore(wrap, select);

    var options = Array.prototype.slice.call(select.options);
    var texts = options.map(function (o) { return fold(o.text + " " + o.value); });

    input.addEventListener("input", function () {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var first = null;
      var count = 0;
      options.forEach(function (option, i) {
        var match = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
        option.hidden = !match;
        if (match) {
          count += 1;
          if (!first) first = option;
        }
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
        group.hidden = !Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
      });
      if (!words.length) {
        status.textContent = "";
        return;
      }
      var selected = select.options[select.selectedIndex];
      if (first && (!selected || selected.hidden)) first.selected = true;
      status.textContent = count
        ? count + (count === 1 ? " time zone matches" : " time zones match") +
          "; chosen: " + select.options[select.selectedIndex].text + "."
        : "No time zone matches; try a larger city nearby, or the country.";
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") event.preventDefault();  // choosing is not saving
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("select[data-tz-picker]"), enhance);
})();
