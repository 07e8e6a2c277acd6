/* Workbench keyboard shortcuts (never while typing in a field):
   to-do list: J / K move between cases, Enter opens, / jumps to the search box;
   case file: A jumps to the first action form, B goes back to the to-do list. */
(function () {
  "use strict";
  function typing(target) {
    var tag = (target && target.tagName) || "";
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-shortcut-row]"));
  var current = -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, n) { r.classList.toggle("row-selected", n === current); });
    var link = rows[current].querySelector("a");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || typing(e.target)) return;
    var key = e.key;
    if (rows.length && (key === "j" || key === "J")) { select(current + 1); e.preventDefault(); }
    else if (rows.length && (key === "k" || key === "K")) { select(current - 1); e.preventDefault(); }
    else if (key === "/") {
      var q = document.getElementById("q");
      if (q) { q.focus(); e.preventDefault(); }
    } else if (key === "a" || key === "A") {
      var first = document.querySelector(".act-form input[type=radio]");
      if (first) { first.focus(); first.scrollIntoView({block: "center"}); e.preventDefault(); }
    } else if (key === "b" || key === "B") {
      var back = document.querySelector("[data-shortcut-back]");
      if (back) { window.location = back.getAttribute("href"); e.preventDefault(); }
    }
  });
})();
