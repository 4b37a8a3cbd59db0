// cronq's screens: times in the viewer's own zone, pages that refresh themselves while
// they are visible, the live preview of a schedule, and a question before a destructive
// action. Everything works without this script, only less conveniently.
(function () {
  'use strict';

  var REFRESH_MS = 5000;
  // How many refreshes were asked for: the browser tests read it to see that a hidden
  // page does not refresh.
  window.cronqRefreshes = 0;

  // The server's "now" (which --now may pin): relative times are measured from it.
  function serverNow() {
    var t = Date.parse(document.body.getAttribute('data-now'));
    return isNaN(t) ? Date.now() : t;
  }

  function relative(ms) {
    var d = Math.abs(ms) / 1000;
    var amount;
    if (d < 45) return 'now';
    if (d < 3600) amount = Math.round(d / 60) + ' min';
    else if (d < 86400) amount = Math.round(d / 3600) + ' h';
    else amount = Math.round(d / 86400) + ' d';
    return ms > 0 ? 'in ' + amount : amount + ' ago';
  }

  // "in 4 min · 30 Nov 2026, 19:05" in the viewer's zone; the UTC time stays in the title.
  function localTimes(root) {
    var now = serverNow();
    root.querySelectorAll('time[datetime]').forEach(function (el) {
      var t = new Date(el.getAttribute('datetime'));
      if (isNaN(t.getTime())) return;
      var local = t.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
      el.textContent = relative(t.getTime() - now) + ' · ' + local;
      el.title = el.getAttribute('datetime') + ' (UTC)';
    });
  }

  // Replaces each live part of the page with its fresh copy, except one the viewer is
  // typing in. Only while the page is visible: a hidden tab asks nothing.
  function refresh() {
    if (document.visibilityState !== 'visible') return;
    var live = document.querySelectorAll('[data-live][id]');
    if (!live.length) return;
    window.cronqRefreshes += 1;
    fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, 'text/html');
        if (doc.body && doc.body.getAttribute('data-now')) {
          document.body.setAttribute('data-now', doc.body.getAttribute('data-now'));
        }
        live.forEach(function (el) {
          if (el.contains(document.activeElement)) return;
          var fresh = doc.getElementById(el.id);
          if (fresh) {
            el.innerHTML = fresh.innerHTML;
            localTimes(el);
          }
        });
      })
      .catch(function () { /* the next refresh tries again */ });
  }

  // The words and next slots of the schedule being typed, from the server's own parser.
  function preview(input) {
    var form = input.form;
    var out = form.querySelector('#preview');
    var tz = form.querySelector('#tz');
    var timer = null;
    function update() {
      var url = input.getAttribute('data-preview') +
        '?schedule=' + encodeURIComponent(input.value) +
        '&tz=' + encodeURIComponent(tz ? tz.value : 'UTC');
      fetch(url, { credentials: 'same-origin' })
        .then(function (r) { return r.text(); })
        .then(function (html) { out.innerHTML = html; })
        .catch(function () { /* the preview is a convenience */ });
    }
    function later() {
      clearTimeout(timer);
      timer = setTimeout(update, 150);
    }
    input.addEventListener('input', later);
    if (tz) tz.addEventListener('input', later);
    update();
  }

  document.addEventListener('submit', function (e) {
    var button = e.submitter || e.target.querySelector('[data-confirm]');
    var question = button && button.getAttribute && button.getAttribute('data-confirm');
    if (question && !window.confirm(question)) e.preventDefault();
  });

  document.addEventListener('DOMContentLoaded', function () {
    localTimes(document);
    document.querySelectorAll('input[data-preview]').forEach(preview);
    setInterval(refresh, REFRESH_MS);
    document.addEventListener('visibilitychange', refresh);
  });
})();
