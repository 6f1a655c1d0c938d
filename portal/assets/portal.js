// keygate portal: niceties on top of pages that work without JavaScript.
// Copy buttons, and a confirmation dialog instead of the confirmation page
// for destructive actions. No inline script: the page's CSP allows only
// this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var token = document.querySelector('meta[name="csrf-token"]');
  var status = document.querySelector(".copied");

  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      var done = function () {
        if (status) { status.textContent = "Copied to the clipboard."; }
        button.textContent = "Copied";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
      } else {
        field.select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  });

  // A form with data-confirm GETs its confirmation page without
  // JavaScript; with it, a dialog asks, and the action is POSTed at once.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!window.confirm(form.dataset.confirm)) { return; }
      var post = document.createElement("form");
      post.method = "post";
      post.action = form.action;
      var csrf = document.createElement("input");
      csrf.type = "hidden";
      csrf.name = "csrf";
      csrf.value = token ? token.content : "";
      post.appendChild(csrf);
      document.body.appendChild(post);
      post.submit();
    });
  });
});
