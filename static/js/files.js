/* chonaikai: shows the files chosen in a file field with their sizes (and which will be refused),
   and lets a desktop user drop files on the field. Without this script the field works the same. */
(function () {
  "use strict";
  var LIMIT = 10 * 1024 * 1024;
  var TYPES = ["application/pdf", "image/jpeg", "image/png"];

  function size(bytes) {
    if (bytes >= 1024 * 1024) { return (bytes / (1024 * 1024)).toFixed(1) + "MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + "KB";
  }

  function show(input) {
    var list = document.getElementById(input.id + "-chosen");
    if (!list) { return; }
    list.textContent = "";
    Array.prototype.forEach.call(input.files || [], function (file) {
      var item = document.createElement("li");
      var note = "";
      if (file.size > LIMIT) { note = " — 大きすぎます（10.0MBまで）"; }
      else if (file.type && TYPES.indexOf(file.type) < 0) { note = " — この種類は付けられません"; }
      item.textContent = file.name + "（" + size(file.size) + "）" + note;
      if (note) { item.className = "error"; }
      list.appendChild(item);
    });
  }

  function setUp(input) {
    if (input.dataset.filesReady) { return; }
    input.dataset.filesReady = "1";
    input.addEventListener("change", function () { show(input); });
    var zone = input.closest(".file-drop") || input;
    zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("dragging"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) {
        input.files = event.dataTransfer.files;
        show(input);
      }
    });
  }

  function init() { document.querySelectorAll("input[type=file][data-show-files]").forEach(setUp); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
  document.addEventListener("htmx:afterSwap", init);  // a 文例 chosen with htmx replaces the form
}());
