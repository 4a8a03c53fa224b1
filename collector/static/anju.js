/* anju: small conveniences only; every page works without this script. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  /* == Household form: member rows added and removed in place (no round trip) == */
  function setupMembers(form) {
    var box = form.querySelector("#members");
    var template = form.querySelector("#member-template");
    if (!box || !template) { return; }
    form.addEventListener("click", function (event) {
      var button = event.target.closest("button[name=action]");
      if (!button) { return; }
      if (button.value === "add_member") {
        event.preventDefault();
        var key = parseInt(box.getAttribute("data-next-key") || "0", 10);
        box.setAttribute("data-next-key", String(key + 1));
        var html = template.innerHTML.replace(/__key__/g, String(key));
        box.insertAdjacentHTML("beforeend", html);
        var rows = box.querySelectorAll(".member-row");
        var added = rows[rows.length - 1];
        // a fresh id, so that posting the same form twice saves this member once
        if (window.crypto && window.crypto.randomUUID) {
          added.querySelector(".member-id").value = window.crypto.randomUUID();
        }
        var first = added.querySelector("input:not([type=hidden]), select");
        if (first) { first.focus(); }
      } else if (button.value.indexOf("remove_member-") === 0) {
        event.preventDefault();
        var row = button.closest(".member-row");
        var id = row.querySelector(".member-id");
        if (id && id.value) {
          var removed = document.createElement("input");
          removed.type = "hidden";
          removed.name = "removed_member";
          removed.value = id.value;
          form.appendChild(removed);
        }
        row.parentNode.removeChild(row);
      }
    });
  }

  /* == Household form: show a field only when its condition holds (data-relevant) == */
  function valuesOf(form, name) {
    var out = [];
    form.querySelectorAll("[name='" + name + "']").forEach(function (el) {
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      out.push(el.value);
    });
    return out;
  }

  function holds(cond, values) {
    if ("equals" in cond) { return values.length === 1 && values[0] === String(cond.equals); }
    if ("in" in cond) { return values.length === 1 && cond["in"].map(String).indexOf(values[0]) >= 0; }
    if ("contains" in cond) { return values.indexOf(String(cond.contains)) >= 0; }
    if ("gt" in cond) { return values.length === 1 && parseFloat(values[0]) > cond.gt; }
    return true;
  }

  function setupRelevant(form) {
    var fields = form.querySelectorAll("[data-relevant]");
    if (!fields.length) { return; }
    function update() {
      fields.forEach(function (field) {
        var cond = JSON.parse(field.getAttribute("data-relevant"));
        field.classList.toggle("irrelevant", !holds(cond, valuesOf(form, cond.field)));
      });
    }
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  }

  /* == Household form: the browser's location into a geopoint field == */
  function setupGeo(form) {
    if (!("geolocation" in navigator)) { return; }
    form.querySelectorAll("button.geo").forEach(function (button) {
      button.hidden = false;
      var label = button.textContent;
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-target"));
        button.disabled = true;
        button.textContent = button.getAttribute("data-busy");
        navigator.geolocation.getCurrentPosition(function (pos) {
          input.value = pos.coords.latitude.toFixed(6) + "," + pos.coords.longitude.toFixed(6);
          button.disabled = false;
          button.textContent = label;
        }, function () {
          button.disabled = false;
          button.textContent = label;
          alert(button.getAttribute("data-fail"));
        }, { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 });
      });
    });
  }

  /* == Household form: a wrong resident ID check character flagged as it is typed == */
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  function checkChar(body) {
    var sum = 0;
    for (var i = 0; i < 17; i++) { sum += parseInt(body.charAt(i), 10) * WEIGHTS[i]; }
    return "10X98765432".charAt(sum % 11);
  }

  function setupIdCheck(form) {
    var message = form.getAttribute("data-id-check-message");
    if (!message) { return; }
    form.addEventListener("change", function (event) {
      var input = event.target;
      if (!input.matches || !input.matches("[data-check=resident_id]")) { return; }
      var value = input.value.trim().toUpperCase();
      var error = document.getElementById(input.id + "-error");
      var field = input.closest(".field");
      if (!error || !field) { return; }
      var wrong = /^\d{17}[\dX]$/.test(value) && checkChar(value) !== value.charAt(17);
      if (wrong) {
        error.textContent = message;
        error.hidden = false;
        field.classList.add("has-error");
      } else if (error.textContent === message) {
        error.hidden = true;
        field.classList.remove("has-error");
      }
    });
  }

  document.querySelectorAll("form.household-form").forEach(function (form) {
    setupMembers(form);
    setupRelevant(form);
    setupGeo(form);
    setupIdCheck(form);
  });
})();
