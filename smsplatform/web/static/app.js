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

  // Live regions: a part of a list page that changes while it is open (statuses, presence) is fetched again
  // every data-live seconds and swapped in place, keeping the boxes ticked in it. Not while the tab is hidden
  // or a field in it has the focus; no more once the server no longer marks it live (nothing left to change),
  // or the session has ended (the page would be the login form). The request says it is a refresh, so that
  // the page it fetches leaves a message flashed for the user's next page (another tab's action) in place.
  function keepRefreshing(region) {
    var seconds = parseFloat(region.getAttribute("data-live")) || 5;
    setTimeout(function () { refreshRegion(region); }, seconds * 1000);
  }

  function busy(region) {
    var focused = document.activeElement;
    return document.hidden || (region.contains(focused) && focused.matches("input:not([type=checkbox]), select, textarea"));
  }

  function refreshRegion(region) {
    if (busy(region)) { keepRefreshing(region); return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html", "X-Live-Refresh": "1" } })
      .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
      .then(function (html) {
        if (html === null || !document.body.contains(region)) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(region.id);
        if (!fresh) { return; }
        if (busy(region)) { keepRefreshing(region); return; }
        var ticked = Array.from(region.querySelectorAll("input[type=checkbox]:checked"), function (b) { return b.name + "=" + b.value; });
        fresh = document.importNode(fresh, true);
        fresh.querySelectorAll("input[type=checkbox]").forEach(function (b) { b.checked = ticked.indexOf(b.name + "=" + b.value) >= 0; });
        region.replaceWith(fresh);
        if (fresh.hasAttribute("data-live")) { keepRefreshing(fresh); }
      })
      .catch(function () { keepRefreshing(region); });  // the server unreachable for a moment: try again later
  }

  document.querySelectorAll("[data-live][id]").forEach(keepRefreshing);

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
