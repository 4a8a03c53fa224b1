/* anju: small conveniences only; every page works without this script. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
})();
