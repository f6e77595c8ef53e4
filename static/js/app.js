// Tenantry Console behaviour. Loaded as an external file (the CSP forbids
// inline script). All handlers are delegated from `document`, so they also
// work for content swapped in by htmx.
(function () {
  'use strict';

  var TOAST_MS = 4000;
  var COPIED_MS = 1500;

  // --- Toasts -------------------------------------------------------------
  function toastContainer() {
    var box = document.getElementById('toasts');
    if (!box) {
      box = document.createElement('div');
      box.id = 'toasts';
      box.className = 'toasts';
      box.setAttribute('aria-live', 'polite');
      (document.body || document.documentElement).appendChild(box);
    }
    return box;
  }

  function toast(message, level) {
    if (!message) return;
    level = level === 'error' || level === 'success' ? level : 'info';
    var el = document.createElement('div');
    el.className = 'toast toast-' + level;
    el.setAttribute('role', level === 'error' ? 'alert' : 'status');
    el.textContent = String(message); // never innerHTML: messages may echo user input
    toastContainer().appendChild(el);
    setTimeout(function () {
      if (el.parentNode) el.parentNode.removeChild(el);
    }, TOAST_MS);
  }

  function requestFailed(evt) {
    var xhr = evt.detail && evt.detail.xhr;
    var status = xhr && xhr.status ? xhr.status : 0;
    // The server explained the failure itself (HX-Trigger showToast): one toast is enough.
    var trigger = xhr && xhr.getResponseHeader ? xhr.getResponseHeader('HX-Trigger') : null;
    if (trigger && trigger.indexOf('showToast') !== -1) return;
    toast(status ? 'Request failed (status ' + status + ') — please retry'
                 : 'Request failed (network error) — please retry', 'error');
  }
  document.addEventListener('htmx:responseError', requestFailed);
  document.addEventListener('htmx:sendError', requestFailed);

  // HX-Trigger: {"showToast":{"message":"…","level":"success|error"}}
  // htmx passes an object value as event.detail; a plain string as detail.value.
  document.addEventListener('showToast', function (evt) {
    var d = evt.detail || {};
    if (typeof d.value === 'string') toast(d.value, 'info');
    else toast(d.message, d.level);
  });

  // --- Keyboard: "/" focuses the search box --------------------------------
  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
  }
  document.addEventListener('keydown', function (evt) {
    if (evt.key !== '/' || evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (isTyping(document.activeElement)) return;
    var search = document.querySelector('[data-search]');
    if (!search) return;
    evt.preventDefault();
    search.focus();
    if (typeof search.select === 'function') search.select();
  });

  // --- Clicks: copy buttons and dialogs ------------------------------------
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) { // http:// fallback
      var ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      document.body.removeChild(ta);
      if (ok) resolve(); else reject(new Error('copy failed'));
    });
  }

  document.addEventListener('click', function (evt) {
    var t = evt.target;
    if (!(t instanceof Element)) return;

    var btn = t.closest('[data-copy]');
    if (btn) {
      evt.preventDefault();
      copyText(btn.getAttribute('data-copy') || '').then(function () {
        if (!btn.hasAttribute('data-copy-label')) btn.setAttribute('data-copy-label', btn.textContent);
        btn.textContent = 'Copied';
        clearTimeout(btn._copyTimer);
        btn._copyTimer = setTimeout(function () {
          btn.textContent = btn.getAttribute('data-copy-label');
          btn.removeAttribute('data-copy-label');
        }, COPIED_MS);
      }, function () { toast('Could not copy to clipboard', 'error'); });
      return;
    }

    var opener = t.closest('[data-open-dialog]');
    if (opener) {
      var dlg = document.getElementById(opener.getAttribute('data-open-dialog'));
      if (dlg && typeof dlg.showModal === 'function' && !dlg.open) {
        evt.preventDefault();
        dlg.showModal();
      }
      return;
    }

    var closer = t.closest('[data-close-dialog]');
    if (closer) {
      var d = closer.closest('dialog');
      if (d && d.open) {
        evt.preventDefault();
        d.close();
      }
    }
  });

  window.Tenantry = window.Tenantry || {};
  window.Tenantry.toast = toast;
})();
