/* Application forms: live hints and draft auto-save. Progressive enhancement only: the form
   works without this file, and the server's validation is the one that counts. */
(function () {
  "use strict";
  if (window.yiwangApplicationForm) return;  // the script may be included once per form
  window.yiwangApplicationForm = true;

  var ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  function citizenIdOk(v) {
    v = v.toUpperCase();
    if (!/^[0-9]{17}[0-9X]$/.test(v)) return false;
    var y = +v.slice(6, 10), m = +v.slice(10, 12), d = +v.slice(12, 14);
    var birth = new Date(y, m - 1, d);
    if (birth.getFullYear() !== y || birth.getMonth() !== m - 1 || birth.getDate() !== d) return false;
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += (+v[i]) * ID_WEIGHTS[i];
    return "10X98765432"[sum % 11] === v[17];
  }

  function usccOk(v) {
    v = v.toUpperCase();
    if (!/^[0-9A-HJ-NPQRTUWXY]{18}$/.test(v)) return false;
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(v[i]) * USCC_WEIGHTS[i];
    return USCC_ALPHABET[(31 - sum % 31) % 31] === v[17];
  }

  function dateOk(v) {
    if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(v)) return false;
    var y = +v.slice(0, 4), m = +v.slice(5, 7), d = +v.slice(8, 10);
    var t = new Date(Date.UTC(y, m - 1, d));
    return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
  }

  var FORMATS = {
    id_number: function (v) { return citizenIdOk(v.replace(/[\s-]/g, "")); },
    uscc: function (v) { return usccOk(v.replace(/[\s-]/g, "")); },
    mobile: function (v) { return /^1[3-9][0-9]{9}$/.test(v.replace(/[\s-]/g, "")); },
    date: dateOk,
    email: function (v) { return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v); }
  };

  /* The first message that applies to a field's current value, or "" when it looks fine. */
  function problem(field, rules) {
    var inputs = field.querySelectorAll("input:not([type=hidden]), select, textarea");
    var m = rules.messages || {};
    if (!inputs.length) return "";
    var first = inputs[0];
    if (first.type === "checkbox" || first.type === "radio") {
      var checked = field.querySelectorAll("input:checked").length > 0;
      if (rules["const"] === true && !checked) return m["const"] || "";
      if (first.type === "radio" && rules.required && !checked) return m.required || "";
      return "";
    }
    if (first.multiple) {
      return rules.required && !first.selectedOptions.length ? (m.required || "") : "";
    }
    var v = first.value.trim();
    if (!v) return rules.required ? (m.required || "") : "";
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(v)) return m.control || "";
    if (rules.type === "integer" || rules.type === "number") {
      var text = v.replace(/[,\s]/g, "");
      var ok = rules.type === "integer" ? /^[+-]?[0-9]+$/.test(text)
        : /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text);
      if (!ok) return m.type || "";
      var n = Number(text);
      if (rules.minimum !== undefined && n < rules.minimum) return m.minimum || "";
      if (rules.maximum !== undefined && n > rules.maximum) return m.maximum || "";
      return "";
    }
    var length = Array.from(v).length;
    if (rules.format && FORMATS[rules.format] && !FORMATS[rules.format](v)) return m.format || "";
    if (rules.pattern) {
      try { if (!new RegExp(rules.pattern, "u").test(v)) return m.pattern || ""; } catch (e) { /* server decides */ }
    }
    if (rules.minLength !== undefined && length < rules.minLength) return m.minLength || "";
    if (rules.maxLength !== undefined && length > rules.maxLength) return m.maxLength || "";
    return "";
  }

  function show(field, message) {
    var box = field.querySelector("[data-errors-for]");
    if (!box) return;
    box.textContent = "";
    field.classList.toggle("field-error", !!message);
    var control = field.querySelector("input:not([type=hidden]), select, textarea");
    if (control) {
      if (message) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
    if (!message) return;
    var p = document.createElement("p");
    p.className = "error-message";
    var hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = "错误：";
    p.appendChild(hidden);
    p.appendChild(document.createTextNode(message));
    box.appendChild(p);
  }

  function enhanceHints(root) {
    root.querySelectorAll("[data-field][data-rules]").forEach(function (field) {
      var rules;
      try { rules = JSON.parse(field.getAttribute("data-rules")); } catch (e) { return; }
      var changed = false;
      function check() { show(field, problem(field, rules)); }
      // Check a field when the applicant leaves it after changing it; while they type, only
      // update a message already shown, so nobody is scolded half-way through a word. The
      // server's messages stay until the field is changed.
      field.addEventListener("input", function () {
        changed = true;
        if (field.classList.contains("field-error")) check();
      });
      field.addEventListener("change", function () { changed = true; check(); });
      field.addEventListener("focusout", function () { if (changed) check(); });
    });
  }

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function enableAutosave(root) {
    var form = root.closest("form");
    var url = root.getAttribute("data-autosave-url") || (form && form.getAttribute("data-autosave-url"));
    if (!form || !url || !window.fetch || !window.FormData) return;
    // The page may show its own status line ("草稿已保存 10:40"); otherwise add one.
    var status = root.querySelector("[data-autosave-status]") ||
      form.querySelector("[data-autosave-status], .autosave-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "autosave-status muted";
      status.setAttribute("role", "status");
      status.setAttribute("aria-live", "polite");
      root.appendChild(status);
    }
    var timer = null, saving = false, again = false, dirty = false;

    function say(text) { if (status) status.textContent = text; }

    function save(leaving) {
      timer = null;
      if (saving) { again = true; return; }
      saving = true;
      dirty = false;
      // The fields only: files are uploaded when the applicant submits, not every few seconds.
      var body = new FormData(form), files = [];
      body.forEach(function (value, key) { if (typeof value !== "string") files.push(key); });
      files.forEach(function (key) { body.delete(key); });
      fetch(url, {
        method: "POST", body: body, credentials: "same-origin",
        keepalive: leaving === true,  // lets the request finish while the page goes away
        headers: {
          "X-CSRFToken": csrfToken(form), "X-Requested-With": "XMLHttpRequest",
          "X-Autosave": "1", "Accept": "application/json"
        }
      }).then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json().catch(function () { return {}; });
      }).then(function (answer) {
        // The server's time if it says (it knows the time zone of the saved draft).
        var at = answer && typeof answer.saved_at === "string" && /^\d\d:\d\d$/.test(answer.saved_at)
          ? answer.saved_at : null;
        if (!at) { var now = new Date(); at = pad(now.getHours()) + ":" + pad(now.getMinutes()); }
        say("已自动保存 " + at);
      }).catch(function () {
        dirty = true;
        say("自动保存未成功，请稍后手动保存");
      }).then(function () {
        saving = false;
        if (again) { again = false; schedule(); }
      });
    }

    function schedule() {
      dirty = true;
      if (timer) clearTimeout(timer);
      timer = setTimeout(save, 2000);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", schedule);
    // Leaving the page or switching apps on a phone: save what is pending at once.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden" && dirty) {
        if (timer) clearTimeout(timer);
        save(true);
      }
    });
  }

  function init() {
    document.querySelectorAll("[data-app-form]").forEach(function (root) {
      enhanceHints(root);
      enableAutosave(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
