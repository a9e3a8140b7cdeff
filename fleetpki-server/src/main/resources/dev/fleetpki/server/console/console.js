// fleetpki console: every action is a call to the REST API with the session's CSRF token.
// No inline script anywhere (the pages' Content-Security-Policy forbids it); this file is all there is.
(function () {
  'use strict';
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }
  function flash(text, kind) {
    var f = document.getElementById('flash');
    if (!f) { return; }
    f.textContent = text;
    f.className = 'flash ' + kind;
  }
  // forms and buttons send JSON to the API, as its other clients do
  htmx.defineExtension('api-json', {
    onEvent: function (name, evt) {
      if (name === 'htmx:configRequest') {
        evt.detail.headers['Content-Type'] = 'application/json';
        evt.detail.headers['X-CSRF-Token'] = csrf();
      }
    },
    encodeParameters: function (xhr, parameters) {
      xhr.overrideMimeType('text/json');
      var body = {};
      parameters.forEach(function (value, key) {
        if (value !== '') { body[key] = value; }
      });
      return JSON.stringify(body);
    }
  });
  document.addEventListener('htmx:afterRequest', function (evt) {
    var xhr = evt.detail.xhr;
    if (evt.detail.successful) {
      var done = evt.detail.elt.getAttribute('data-done') || 'Done.';
      if (xhr.status === 202) { // recorded as the first of two operators' approvals: nothing done yet
        try { done = JSON.parse(xhr.responseText).detail; } catch (e) { done = 'Recorded; a second operator must confirm.'; }
      }
      sessionStorage.setItem('fleetpki-flash', done);
      window.location.reload();
      return;
    }
    var text = 'The request failed (HTTP ' + xhr.status + ').';
    try {
      var p = JSON.parse(xhr.responseText);
      text = p.title + ': ' + p.detail;
    } catch (e) { /* not a problem document */ }
    if (xhr.status === 401) { text += ' Sign in again.'; }
    flash(text, 'error');
  });
  document.addEventListener('htmx:sendError', function () {
    flash('The server did not answer; check the connection and try again.', 'error');
  });
  document.addEventListener('DOMContentLoaded', function () {
    var done = sessionStorage.getItem('fleetpki-flash');
    if (done) {
      sessionStorage.removeItem('fleetpki-flash');
      flash(done, 'ok');
    }
  });
})();
