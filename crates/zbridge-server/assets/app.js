// zbridge UI enhancements. Every page works as plain forms without this script; with it the
// Advanced Configurations table gets row buttons, fields get the variable picker, and links
// marked data-confirm ask first.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  // ---- confirmations ---------------------------------------------------------------------
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("[data-confirm]");
    if (link && !window.confirm(link.getAttribute("data-confirm"))) ev.preventDefault();
  });

  // ---- Advanced Configurations -----------------------------------------------------------
  function say(text) {
    var m = document.getElementById("adv-message");
    if (m) m.textContent = text;
  }
  function knownKey(key) {
    var opts = document.querySelectorAll("#known-keys option");
    for (var i = 0; i < opts.length; i++) {
      if (opts[i].value.toLowerCase() === key.toLowerCase()) return opts[i].value;
    }
    return null;
  }
  function inputs(row) { return row.querySelectorAll("input"); }
  function setMode(row, editing) {
    inputs(row).forEach(function (i) { i.readOnly = !editing; });
    var cell = row.querySelector(".row-actions");
    cell.textContent = "";
    var key = row.querySelector("input[name=adv_key]").value || "new row";
    if (editing) {
      cell.appendChild(el("button", { type: "button", "data-row": "submit", "aria-label": "Submit row " + key }, "Submit"));
    } else {
      cell.appendChild(el("button", { type: "button", "data-row": "edit", "aria-label": "Edit row " + key }, "Edit"));
    }
    cell.appendChild(document.createTextNode(" "));
    cell.appendChild(el("button", { type: "button", "data-row": "delete", class: "danger", "aria-label": "Delete row " + key }, "Delete"));
  }
  function submitRow(row) {
    var keyInput = row.querySelector("input[name=adv_key]");
    var key = knownKey(keyInput.value.trim());
    if (!key) { say("Advanced Configurations: '" + keyInput.value + "' is not a known key; see Known keys."); keyInput.focus(); return; }
    var dup = Array.prototype.some.call(document.querySelectorAll("#advanced-rows input[name=adv_key]"), function (other) {
      return other !== keyInput && other.value.toLowerCase() === key.toLowerCase();
    });
    if (dup) { say("Advanced Configurations: " + key + " is already in the table; edit that row instead."); keyInput.focus(); return; }
    keyInput.value = key;
    setMode(row, false);
    say("Row " + key + " is ready; Save Changes keeps it.");
    row.querySelector("[data-row=edit]").focus();
  }
  function initAdvanced() {
    var body = document.getElementById("advanced-rows");
    if (!body) return;
    var blank = body.querySelector(".adv-blank");
    if (blank) blank.remove();
    body.querySelectorAll(".adv-row").forEach(function (row) { setMode(row, false); });
    body.addEventListener("click", function (ev) {
      var b = ev.target.closest("button[data-row]");
      if (!b) return;
      var row = b.closest("tr");
      var action = b.getAttribute("data-row");
      if (action === "edit") { setMode(row, true); row.querySelector("input[name=adv_value]").focus(); }
      if (action === "submit") submitRow(row);
      if (action === "delete") {
        var key = row.querySelector("input[name=adv_key]").value;
        row.remove();
        say("Deleted row " + key + "; Save Changes keeps the change.");
        document.getElementById("adv-add").focus();
      }
    });
    document.getElementById("adv-add").addEventListener("click", function () {
      var tpl = document.getElementById("adv-row-template");
      var row = tpl.content.firstElementChild.cloneNode(true);
      body.appendChild(row);
      setMode(row, true);
      attachPicker(row.querySelector("[data-vars]"));
      row.querySelector("input[name=adv_key]").focus();
    });
    document.getElementById("adv-clear-all").addEventListener("click", function () {
      body.textContent = "";
      say("Cleared every row; Save Changes keeps the change.");
    });
  }

  // ---- variable picker -------------------------------------------------------------------
  var popup = null, popupTarget = null, afterBracket = false;
  function variables() {
    return Array.prototype.map.call(document.querySelectorAll(".var-choice"), function (b) {
      return { name: b.getAttribute("data-name"), scope: b.parentNode.querySelector(".muted").textContent };
    });
  }
  function closePicker(refocus) {
    if (popup) { popup.remove(); popup = null; }
    if (refocus && popupTarget) popupTarget.focus();
  }
  function insert(name) {
    var t = popupTarget;
    if (t.tagName === "SELECT") {
      var v = "[" + name + "]";
      var found = Array.prototype.find.call(t.options, function (o) { return o.value === v; });
      if (!found) { found = el("option", { value: v }, v + " (variable)"); t.appendChild(found); }
      t.value = v;
    } else {
      var text = afterBracket ? name + "]" : "[" + name + "]";
      var at = t.selectionStart == null ? t.value.length : t.selectionStart;
      t.value = t.value.slice(0, at) + text + t.value.slice(t.selectionEnd == null ? at : t.selectionEnd);
      if (t.setSelectionRange) t.setSelectionRange(at + text.length, at + text.length);
    }
    closePicker(true);
  }
  function openPicker(target, bracket) {
    closePicker(false);
    popupTarget = target; afterBracket = bracket;
    popup = el("ul", { class: "var-list", role: "listbox", "aria-label": "Variables", id: "var-picker" });
    var vars = variables();
    if (!vars.length) popup.appendChild(el("li", { class: "muted" }, "No variables yet"));
    vars.forEach(function (v) {
      var li = el("li", { role: "option" });
      var b = el("button", { type: "button", "data-name": v.name }, "[" + v.name + "] ");
      b.appendChild(el("span", { class: "muted" }, v.scope));
      b.addEventListener("click", function () { insert(v.name); });
      li.appendChild(b);
      popup.appendChild(li);
    });
    popup.addEventListener("keydown", function (ev) {
      var items = popup.querySelectorAll("button");
      var i = Array.prototype.indexOf.call(items, document.activeElement);
      if (ev.key === "Escape") { ev.preventDefault(); closePicker(true); }
      if (ev.key === "ArrowDown" && items.length) { ev.preventDefault(); items[(i + 1) % items.length].focus(); }
      if (ev.key === "ArrowUp" && items.length) { ev.preventDefault(); items[(i - 1 + items.length) % items.length].focus(); }
    });
    var rect = target.getBoundingClientRect();
    popup.style.left = (rect.left + window.scrollX) + "px";
    popup.style.top = (rect.bottom + window.scrollY + 2) + "px";
    popup.style.minWidth = rect.width + "px";
    document.body.appendChild(popup);
    var first = popup.querySelector("button");
    if (first) first.focus();
  }
  function labelOf(field) {
    var l = field.id && document.querySelector("label[for='" + field.id + "']");
    return l ? l.textContent.trim() : (field.getAttribute("aria-label") || "this field");
  }
  function attachPicker(field) {
    if (!field || field.dataset.picker) return;
    field.dataset.picker = "1";
    var b = el("button", { type: "button", class: "var-btn", "aria-label": "Insert a variable into " + labelOf(field), "aria-haspopup": "listbox", title: "Insert a variable" }, "[x]");
    b.addEventListener("click", function () { openPicker(field, false); });
    field.insertAdjacentElement("afterend", b);
    if (field.tagName === "INPUT") {
      field.addEventListener("input", function (ev) { if (ev.data === "[") openPicker(field, true); });
    }
  }
  document.addEventListener("click", function (ev) {
    if (popup && !popup.contains(ev.target) && !ev.target.classList.contains("var-btn")) closePicker(false);
  });

  document.addEventListener("DOMContentLoaded", function () {
    initAdvanced();
    document.querySelectorAll("[data-vars]").forEach(attachPicker);
  });
})();
