/* Starts the vendored Swagger UI on /schema (no inline script: the CSP forbids them). */
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: element.getAttribute("data-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false
  });
}());
