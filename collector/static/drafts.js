/* anju drafts: what is typed into a form marked data-draft="<form>:<record>" is kept in this
   browser's localStorage while typing, restored after a reload or a re-login, and a warning is
   shown before leaving a changed form. The server says (body data-drafts-saved) which drafts
   were saved, and those are forgotten. Also: full-width digits and letters typed with a Chinese
   input method into ID and phone fields (data-halfwidth) become ordinary ones.
   No inline script, nothing from the network; every page works without this file. */
(function () {
  "use strict";
  var PREFIX = "anju-draft:";
  var SKIP = { csrf_token: 1, password: 1, _login_password: 1 };

  function store() {
    try { return window.localStorage; } catch (e) { return null; }
  }

  function forget(key) {
    var s = store();
    if (s) { try { s.removeItem(PREFIX + key); } catch (e) { /* private mode */ } }
  }

  /* Full-width ASCII (！ to ～) and the ideographic space to half-width. */
  function halfwidth(text) {
    return text.replace(/[\uff01-\uff5e]/g, function (ch) {
      return String.fromCharCode(ch.charCodeAt(0) - 0xfee0);
    }).replace(/\u3000/g, " ");
  }

  function setupHalfwidth(root) {
    root.addEventListener("input", function (event) {
      var el = event.target;
      if (!el.matches || !el.matches("input[data-halfwidth]") || event.isComposing) { return; }
      var fixed = halfwidth(el.value);
      if (fixed !== el.value) {
        var at = el.selectionStart;
        el.value = fixed;
        try { el.setSelectionRange(at, at); } catch (e) { /* not a text input */ }
      }
    });
    root.addEventListener("compositionend", function (event) {
      var el = event.target;
      if (el.matches && el.matches("input[data-halfwidth]")) { el.value = halfwidth(el.value); }
    });
  }

  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && !SKIP[el.name] && el.type !== "file" && el.type !== "submit" &&
        el.type !== "button" && el.tagName !== "BUTTON";
    });
  }

  function snapshot(form) {
    var out = {};
    fields(form).forEach(function (el) {
      if (el.type === "checkbox" || el.type === "radio") {
        if (!(el.name in out)) { out[el.name] = []; }
        if (el.checked) { out[el.name].push(el.value); }
      } else if (el.tagName === "SELECT" && el.multiple) {
        out[el.name] = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return o.value; });
      } else {
        out[el.name] = el.value;
      }
    });
    return out;
  }

  /* Member rows the draft has but the page lacks (added before the reload): made from the
     form's row template, as the "add a member" button does. */
  function ensureRows(form, values) {
    var box = form.querySelector("#members");
    var template = form.querySelector("#member-template");
    if (!box || !template) { return; }
    var next = parseInt(box.getAttribute("data-next-key") || "0", 10);
    Object.keys(values).forEach(function (name) {
      var m = /^m-(\d{1,4})-id$/.exec(name);
      if (!m || form.querySelector("[name='" + name + "']")) { return; }
      box.insertAdjacentHTML("beforeend", template.innerHTML.replace(/__key__/g, m[1]));
      next = Math.max(next, parseInt(m[1], 10) + 1);
    });
    box.setAttribute("data-next-key", String(next));
  }

  function apply(form, values) {
    ensureRows(form, values);
    fields(form).forEach(function (el) {
      if (!(el.name in values)) { return; }
      var v = values[el.name];
      if (el.type === "checkbox" || el.type === "radio") {
        el.checked = Array.isArray(v) && v.indexOf(el.value) >= 0;
      } else if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.options, function (o) {
          o.selected = Array.isArray(v) && v.indexOf(o.value) >= 0;
        });
      } else if (typeof v === "string") {
        el.value = v;
      }
    });
    form.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  function notice(form, when, onDiscard) {
    var box = document.createElement("p");
    box.className = "draft-notice";
    box.setAttribute("role", "status");
    box.textContent = (form.getAttribute("data-draft-restored") || "已恢复本机保存的草稿") +
      (when ? "（" + when + "）" : "") + " ";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "link";
    button.textContent = form.getAttribute("data-draft-discard") || "放弃草稿";
    button.addEventListener("click", function () {
      onDiscard();
      box.parentNode.removeChild(box);
    });
    box.appendChild(button);
    form.insertBefore(box, form.firstChild);
  }

  function setupDraft(form, saved) {
    var key = form.getAttribute("data-draft");
    var s = store();
    if (!key || !s) { return; }
    if (saved.indexOf(key) >= 0) { forget(key); }
    var original = snapshot(form);
    var dirty = false;
    var raw = null;
    try { raw = s.getItem(PREFIX + key); } catch (e) { raw = null; }
    if (raw) {
      try {
        var draft = JSON.parse(raw);
        if (draft && draft.values && !same(draft.values, original)) {
          apply(form, draft.values);
          dirty = true;
          notice(form, draft.at ? new Date(draft.at).toLocaleString("zh-CN", { hour12: false }) : "",
            function () { forget(key); window.location.reload(); });
        }
      } catch (e) { forget(key); }
    }
    function keep() {
      var values = snapshot(form);
      dirty = !same(values, original);
      try {
        if (dirty) {
          s.setItem(PREFIX + key, JSON.stringify({ at: Date.now(), values: values }));
        }
      } catch (e) { /* storage full or private mode: the warning below still protects */ }
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (!dirty) { return; }
      event.preventDefault();
      event.returnValue = "";
      return "";
    });
  }

  function start() {
    var saved = (document.body.getAttribute("data-drafts-saved") || "").split(" ")
      .filter(Boolean);
    saved.forEach(forget);
    setupHalfwidth(document);
    document.querySelectorAll("form[data-draft]").forEach(function (form) {
      setupDraft(form, saved);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
