// anju compensation pages: the Print button (Ctrl+P works without it).
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.addEventListener("click", function () { window.print(); });
});
