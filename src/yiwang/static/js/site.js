/* Progressive enhancement only: every page works without this file. */
(function () {
  "use strict";
  // On phones, fold the search filters so the results come first (chosen filters are listed
  // above the results anyway); the summary opens them again.
  if (window.matchMedia && window.matchMedia("(max-width: 899px)").matches) {
    var filters = document.querySelector(".facets-details");
    if (filters) filters.removeAttribute("open");
  }
  // Move focus to the login error summary so screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
