/* Dashboard helpers: SMS counter, copy buttons, confirmations, select-all, newsletter preview, live regions.
   No network but our own. */
(function () {
  "use strict";

  // Mirrors smsplatform/messaging/segments.py: GSM-7 160/153 (extension characters count two), else UCS-2 70/67.
  var GSM7_BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  var GSM7_EXTENSION = "^{}\\[~]|€\f";

  function countSegments(text) {
    var gsm = true, units = 0, i, ch;
    var chars = Array.from(text);
    for (i = 0; i < chars.length; i++) {
      ch = chars[i];
      if (GSM7_BASIC.indexOf(ch) >= 0) { units += 1; }
      else if (GSM7_EXTENSION.indexOf(ch) >= 0) { units += 2; }
      else { gsm = false; break; }
    }
    var single = 160, multi = 153, encoding = "GSM-7";
    if (!gsm) {
      units = text.length; // UTF-16 code units, as Python's utf-16-le length / 2
      single = 70; multi = 67; encoding = "UCS-2";
    }
    var segments = units <= single ? 1 : Math.ceil(units / multi);
    return { encoding: encoding, units: units, segments: segments, chars: chars.length };
  }
  window.countSegments = countSegments;

  function describe(info) {
    return info.chars + " characters · " + info.segments + " SMS (" + info.encoding + ", " + info.units + " units)";
  }

  document.querySelectorAll("textarea[data-counter]").forEach(function (area) {
    var out = document.getElementById(area.getAttribute("data-counter"));
    function update() { if (out) { out.textContent = describe(countSegments(area.value)); } }
    area.addEventListener("input", update);
    update();
  });

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.getAttribute("data-copy"));
      if (!field) { return; }
      field.select();
      var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  // Sign-up: the time zone starts at the browser's own, when the zone list knows it.
  document.querySelectorAll("input[data-browser-zone]").forEach(function (input) {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (error) { return; }
    var known = input.list && Array.from(input.list.options).some(function (option) { return option.value === zone; });
    if (known) { input.value = zone; }
  });

  // Send: the channel select offers only the channels of the chosen phone (its option's data-slots, e.g. "0,1,3").
  document.querySelectorAll("select[data-channels-of]").forEach(function (channel) {
    var device = document.getElementById(channel.getAttribute("data-channels-of"));
    if (!device) { return; }
    var follow = function () {
      var chosen = device.options[device.selectedIndex];
      if (!chosen || !chosen.hasAttribute("data-slots")) { return; }
      var slots = chosen.getAttribute("data-slots").split(",");
      Array.from(channel.options).forEach(function (option) {
        option.hidden = option.disabled = slots.indexOf(option.value) < 0;
      });
      var current = channel.options[channel.selectedIndex];
      if (!current || current.disabled) {
        var first = Array.from(channel.options).find(function (option) { return !option.disabled; });
        if (first) { channel.value = first.value; }
      }
    };
    device.addEventListener("change", follow);
    follow();
  });

  // Listened for on the document, so that forms and boxes a live region brings in work the same.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("data-confirm") && !window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
  });

  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches("input[data-select-all]")) { return; }
    var name = box.getAttribute("data-select-all");
    box.form.querySelectorAll("input[name='" + name + "']").forEach(function (b) { b.checked = box.checked; });
  });

  // Live regions: the parts of a page that change while it is open (statuses, progress, presence, a newsletter's
  // buttons), each an element with an id and data-live="seconds". One timer for the page fetches the page again
  // at the shortest interval its regions ask for, and updates every one of them from that one answer. Never
  // while the tab is hidden; no more once the server marks no region live (nothing left to change), or the
  // session has ended (the page would be the login form). The request says it is a refresh, so that the page
  // it fetches leaves a message flashed for the user's next page (another tab's action) in place.
  //
  // A region is updated in place (morph), not replaced: a node whose counterpart is still there stays the same
  // node, so the keyboard focus, ticked boxes and a screen reader's place stay where they are, and only what
  // changed is touched. Nodes are matched by id, data-key (a list's rows) or a form's action, else by their
  // place among their parent's children of their kind. A region is left as it is, and tried again at the next
  // refresh, while the focus is in one of its fields (what is being typed) or on an element the new version
  // removes or changes (the button of an action no longer offered): it follows once the focus has moved on,
  // and the server refuses a stale action, saying why.
  var FIELDS = "input:not([type=checkbox]):not([type=radio]), select, textarea";
  var liveTimer = null;

  function liveRegions() { return Array.from(document.querySelectorAll("[data-live][id]")); }

  function scheduleLive() {
    clearTimeout(liveTimer);
    var seconds = liveRegions().map(function (region) { return parseFloat(region.getAttribute("data-live")) || 5; });
    if (seconds.length) { liveTimer = setTimeout(refreshLive, Math.min.apply(null, seconds) * 1000); }
  }

  function typingIn(region) {
    return region.contains(document.activeElement) && document.activeElement.matches(FIELDS);
  }

  function refreshLive() {
    if (document.hidden || liveRegions().every(typingIn)) { scheduleLive(); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html", "X-Live-Refresh": "1" } })
      .then(function (response) {
        if (response.status >= 500) { throw new Error("the server failed: try again later"); }
        return response.ok && !response.redirected ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }  // signed out, or the page is gone: stop
        var page = new DOMParser().parseFromString(html, "text/html");
        liveRegions().forEach(function (region) {
          var fresh = page.getElementById(region.id);
          if (fresh) { updateRegion(region, fresh); } else { region.removeAttribute("data-live"); }
        });
        scheduleLive();
      })
      .catch(scheduleLive);  // the server unreachable for a moment: try again later
  }

  function updateRegion(region, fresh) {
    var focused = document.activeElement;
    if (typingIn(region)) { return; }
    if (focused && focused !== region && region.contains(focused)) {
      var counterpart = counterpartOf(focused, region, fresh);
      if (!counterpart || !counterpart.isEqualNode(focused)) { return; }
    }
    morph(region, fresh);
    if (focused && focused !== document.activeElement && document.body.contains(focused)) {
      focused.focus({ preventScroll: true });  // moved among its siblings (a list reordered): focused again
    }
  }

  // The children of ``parent``, each with the key morph matches it by: "TR#12" for an id or data-key (a form:
  // its action, so the button of an action stays the same element whichever others come or go beside it),
  // else its place among the children of its kind without one ("TD:2", "#text:1").
  function keyedChildren(parent) {
    var counts = {};
    return Array.from(parent.childNodes).map(function (node) {
      var id = node.nodeType === 1 &&
        (node.id || node.getAttribute("data-key") || (node.nodeName === "FORM" && node.getAttribute("action")));
      if (id) { return [node, node.nodeName + "#" + id]; }
      counts[node.nodeName] = (counts[node.nodeName] || 0) + 1;
      return [node, node.nodeName + ":" + counts[node.nodeName]];
    });
  }

  function byKey(children) {  // the first child of each key (a second one with the same id is matched by none)
    var keyed = new Map();
    children.forEach(function (child) { if (!keyed.has(child[1])) { keyed.set(child[1], child[0]); } });
    return keyed;
  }

  // The node of ``fresh`` that morph makes ``node`` (inside ``region``) into, or null when it removes it.
  function counterpartOf(node, region, fresh) {
    var path = [];
    for (var at = node; at !== region; at = at.parentNode) {
      var children = keyedChildren(at.parentNode);
      var key = children.find(function (child) { return child[0] === at; })[1];
      if (byKey(children).get(key) !== at) { return null; }
      path.unshift(key);
    }
    var match = fresh;
    for (var i = 0; i < path.length && match; i++) { match = byKey(keyedChildren(match)).get(path[i]) || null; }
    return match;
  }

  // ``old`` made like ``fresh``, keeping each of its nodes that has a counterpart there.
  function morph(old, fresh) {
    if (old.nodeType !== 1) {
      if (old.nodeValue !== fresh.nodeValue) { old.nodeValue = fresh.nodeValue; }
      return;
    }
    if (old.isEqualNode(fresh)) { return; }
    Array.from(fresh.attributes).forEach(function (a) {
      if (old.getAttribute(a.name) !== a.value) { old.setAttribute(a.name, a.value); }
    });
    Array.from(old.attributes).forEach(function (a) {
      if (!fresh.hasAttribute(a.name)) { old.removeAttribute(a.name); }
    });
    var olds = byKey(keyedChildren(old)), kept = new Set();
    var plan = keyedChildren(fresh).map(function (child) {
      var match = olds.get(child[1]);
      if (!match || kept.has(match)) { return [child[0], null]; }
      kept.add(match);
      return [child[0], match];
    });
    Array.from(old.childNodes).forEach(function (node) { if (!kept.has(node)) { old.removeChild(node); } });
    var cursor = old.firstChild;
    plan.forEach(function (step) {
      var node = step[0], match = step[1];
      if (!match) { old.insertBefore(document.importNode(node, true), cursor); return; }
      if (match === cursor) { cursor = cursor.nextSibling; } else { old.insertBefore(match, cursor); }
      morph(match, node);
    });
  }

  scheduleLive();

  var newsletter = document.getElementById("newsletter-form");
  if (newsletter) {
    var timer = null;
    var refresh = function () {
      var params = new URLSearchParams();
      params.set("body", newsletter.querySelector("[name=body]").value);
      var image = newsletter.querySelector("input[name=image]");
      var picture = document.getElementById("preview-image");
      var current = newsletter.getAttribute("data-current-image");
      var remove = newsletter.querySelector("input[name=remove_image]");
      if (image && image.files && image.files.length) {
        params.set("image", "1");
        if (picture.chosen !== image.files[0]) {
          if (picture.chosen) { URL.revokeObjectURL(picture.src); }
          picture.chosen = image.files[0];
          picture.src = URL.createObjectURL(picture.chosen);
        }
        picture.hidden = false;
      } else if (current && !(remove && remove.checked)) {
        params.set("image", "1");  // editing: the newsletter's image stays
        if (picture.chosen) { URL.revokeObjectURL(picture.src); picture.chosen = null; }
        picture.src = current;
        picture.hidden = false;
      } else if (picture) {
        picture.hidden = true;
      }
      newsletter.querySelectorAll("input[name=tag_ids]:checked").forEach(function (b) { params.append("tag_ids", b.value); });
      var csrf = newsletter.querySelector("input[name=csrf_token]");
      fetch(newsletter.getAttribute("data-preview-url"), {
        method: "POST", body: params, credentials: "same-origin",
        headers: csrf ? { "X-CSRFToken": csrf.value } : {}
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          document.getElementById("preview-text").textContent = data.text;
          document.getElementById("preview-for").textContent = data.sample ? "For " + data.sample : "For a sample contact (Alex Example)";
          document.getElementById("preview-segments").textContent = data.segments + " SMS per recipient (" + data.encoding + ", " + data.units + " units)";
          document.getElementById("preview-audience").textContent = data.audience;
        });
    };
    newsletter.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    newsletter.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 50); });
    refresh();
  }
})();
