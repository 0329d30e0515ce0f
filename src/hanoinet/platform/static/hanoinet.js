// hanoinet: the only script. It switches between light and dark (remembered in a cookie) and asks before
// actions that cannot be undone. Everything works without it.
(function () {
  "use strict";
  var root = document.documentElement;
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest("[data-theme-toggle]");
    if (!toggle) { return; }
    var dark = root.dataset.theme === "dark" ||
      (root.dataset.theme !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
    root.dataset.theme = dark ? "light" : "dark";
    document.cookie = "theme=" + root.dataset.theme + "; path=/; max-age=31536000; SameSite=Strict";
  });
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
}());
