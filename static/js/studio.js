// Small progressive enhancements. No inline handlers anywhere: the CSP forbids them, and every
// feature here has a plain-HTML fallback (a button that posts, a text that can be selected).
"use strict";

document.documentElement.classList.add("js");

// Ctrl+Enter (Cmd+Enter on a Mac) submits the form the focus is in, as in most editors.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  const form = event.target.closest && event.target.closest("form");
  if (!form) return;
  event.preventDefault();
  form.requestSubmit();
});

// The prompt's character counter, against the vendor's limit when it has one. The textarea
// names its counter in data-counter and its limit in data-maxlength.
function updateCounter(textarea) {
  const counter = document.getElementById(textarea.dataset.counter);
  if (!counter) return;
  const length = [...textarea.value].length; // characters, not UTF-16 units
  const limit = Number(textarea.dataset.maxlength || 0);
  counter.textContent = limit ? `${length} / ${limit}` : String(length);
  const over = limit && length > limit;
  counter.classList.toggle("over", Boolean(over));
  if (over) counter.textContent += ` · ${counter.dataset.over || ""}`;
}

function initCounters(root) {
  root.querySelectorAll("textarea[data-counter]").forEach(updateCounter);
}

document.addEventListener("input", (event) => {
  if (event.target.matches && event.target.matches("textarea[data-counter]")) {
    updateCounter(event.target);
  }
});

// Copy a text to the clipboard: <button data-copy="#selector" data-copied="Copied" hidden>.
function initCopyButtons(root) {
  if (!navigator.clipboard) return;
  root.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
  });
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest && event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    // A form field (the new share link) holds its text in value, an element in its content.
    const text = "value" in source ? source.value : source.textContent;
    await navigator.clipboard.writeText(text);
    const label = button.textContent;
    button.textContent = button.dataset.copied || label;
    setTimeout(() => {
      button.textContent = label;
    }, 1500);
  } catch (error) {
    // Clipboard refused (permissions): the text stays on the page to select by hand.
  }
});

// A running job's elapsed time and ETA tick every second between the card's polls (the server
// answers a poll that sees nothing new with 204, which swaps nothing).
function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

setInterval(() => {
  const now = Date.now();
  document.querySelectorAll("[data-clock-since]").forEach((el) => {
    el.textContent = clockText((now - Date.parse(el.dataset.clockSince)) / 1000);
  });
  document.querySelectorAll("[data-clock-until]").forEach((el) => {
    const left = (Date.parse(el.dataset.clockUntil) - now) / 1000;
    const holder = el.closest("[data-late]");
    if (left <= 0 && holder) holder.textContent = holder.dataset.late;
    else el.textContent = clockText(left);
  });
}, 1000);

// Reference images: besides the file picker, dropped and pasted images, each previewed with a
// remove button. The files live here and are written into the form's file input, so that
// they also survive the form being reshaped (a new key or model) until it is posted.
let pendingFiles = [];

function referenceInput() {
  return document.querySelector(".dropzone input[type=file]");
}

function renderPreviews(input) {
  const zone = input.closest(".dropzone");
  const list = zone && zone.querySelector(".upload-previews");
  if (!list) return;
  list.querySelectorAll("img").forEach((img) => URL.revokeObjectURL(img.src));
  list.replaceChildren(
    ...pendingFiles.map((file, index) => {
      const item = document.createElement("li");
      const img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = `${zone.dataset.previewLabel || ""} ${file.name}`;
      img.width = 96;
      img.height = 96;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button small";
      button.textContent = zone.dataset.removeLabel || "×";
      button.setAttribute("aria-label", `${button.textContent} ${file.name}`);
      button.dataset.removeUpload = String(index);
      item.append(img, button);
      return item;
    }),
  );
}

function syncFiles() {
  const input = referenceInput();
  if (!input) return;
  const transfer = new DataTransfer();
  pendingFiles.forEach((file) => transfer.items.add(file));
  input.files = transfer.files;
  renderPreviews(input);
}

function addFiles(files) {
  const images = [...files].filter((file) => file.type.startsWith("image/"));
  if (!images.length || !referenceInput()) return false;
  pendingFiles.push(...images);
  syncFiles();
  return true;
}

document.addEventListener("change", (event) => {
  if (!event.target.matches || !event.target.matches(".dropzone input[type=file]")) return;
  // The picker replaces the input's files: add them to what was dropped or pasted before.
  pendingFiles.push(...event.target.files);
  syncFiles();
});

document.addEventListener("dragover", (event) => {
  const zone = event.target.closest && event.target.closest(".dropzone");
  if (!zone) return;
  event.preventDefault();
  zone.classList.add("dragging");
});

document.addEventListener("dragleave", (event) => {
  const zone = event.target.closest && event.target.closest(".dropzone");
  if (zone && !zone.contains(event.relatedTarget)) zone.classList.remove("dragging");
});

document.addEventListener("drop", (event) => {
  const zone = event.target.closest && event.target.closest(".dropzone");
  if (!zone) return;
  event.preventDefault();
  zone.classList.remove("dragging");
  addFiles(event.dataTransfer.files);
});

document.addEventListener("paste", (event) => {
  const files = event.clipboardData && event.clipboardData.files;
  // Text pastes as usual; only images go to the references.
  if (files && files.length && addFiles(files)) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const upload = event.target.closest && event.target.closest("[data-remove-upload]");
  if (upload) {
    pendingFiles.splice(Number(upload.dataset.removeUpload), 1);
    syncFiles();
    const input = referenceInput();
    if (input) input.focus();
    return;
  }
  // A reference already uploaded (carried as a hidden input in its list item).
  const chosen = event.target.closest && event.target.closest("[data-remove-reference]");
  if (chosen) chosen.closest("li").remove();
});

document.addEventListener("htmx:beforeRequest", (event) => {
  // Posting the form sends the files (they come back as references); the form that comes
  // back starts without them. Only the generate form has a drop zone: the compare form posts
  // itself on every change, which this bookkeeping does not follow.
  if (event.detail.elt && event.detail.elt.id === "generate-form") pendingFiles = [];
});

// Jobs that end while the tab is in the background: a count in the title and, if the user
// asked for it, a browser notification. A card that stops polling has ended.
const baseTitle = document.title;
const inFlight = new Set();
let finishedUnseen = 0;
const NOTIFY_KEY = "studio.notify";

function watchCards(root) {
  const cards = root.matches && root.matches("article.job") ? [root] : [];
  cards.push(...root.querySelectorAll("article.job"));
  cards.forEach((card) => {
    if (card.hasAttribute("hx-trigger")) {
      inFlight.add(card.id);
    } else if (inFlight.delete(card.id)) {
      jobEnded(card);
    }
  });
}

function jobEnded(card) {
  if (document.visibilityState !== "hidden") return;
  finishedUnseen += 1;
  document.title = `(${finishedUnseen}) ${baseTitle}`;
  const toggle = document.getElementById("notify-toggle");
  if (toggle && notificationsOn()) {
    const prompt = card.querySelector(".prompt");
    new Notification(toggle.dataset.message, { body: prompt ? prompt.textContent : "" });
  }
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && finishedUnseen) {
    finishedUnseen = 0;
    document.title = baseTitle;
  }
});

function notificationsOn() {
  return (
    "Notification" in window &&
    Notification.permission === "granted" &&
    localStorage.getItem(NOTIFY_KEY) === "1"
  );
}

function showNotifyState(toggle) {
  if (!toggle.dataset.off) toggle.dataset.off = toggle.textContent;
  const on = notificationsOn();
  toggle.textContent = on ? toggle.dataset.on : toggle.dataset.off;
  toggle.setAttribute("aria-pressed", String(on));
}

function initNotifyToggle(root) {
  const toggle = root.querySelector && root.querySelector("#notify-toggle");
  if (!toggle || !("Notification" in window) || Notification.permission === "denied") return;
  toggle.hidden = false;
  showNotifyState(toggle);
}

document.addEventListener("click", async (event) => {
  const toggle = event.target.closest && event.target.closest("#notify-toggle");
  if (!toggle) return;
  if (notificationsOn()) {
    localStorage.removeItem(NOTIFY_KEY);
  } else if ((await Notification.requestPermission()) === "granted") {
    localStorage.setItem(NOTIFY_KEY, "1");
  }
  showNotifyState(toggle);
});

// On a phone, tables become stacked cards (studio.css); each cell shows its column's name
// from data-label, copied here from the table's header so no template has to repeat it.
function labelCells(root) {
  const tables = root.matches && root.matches("table") ? [root] : [...root.querySelectorAll("table")];
  const own = root.closest && root.closest("table");
  if (own) tables.push(own); // a row swapped in by htmx
  tables.forEach((table) => {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    [...table.tBodies].forEach((body) => {
      [...body.rows].forEach((row) => {
        [...row.cells].forEach((cell, i) => {
          if (names[i] && !cell.dataset.label) cell.dataset.label = names[i];
        });
      });
    });
  });
}

// A form that comes back with errors (a page or an htmx swap) puts the focus on its first
// invalid field, so a keyboard or screen-reader user lands on what needs fixing. Django marks
// such fields aria-invalid; a form error without a field focuses its message instead.
function focusFirstError(root) {
  const field = root.querySelector('[aria-invalid="true"]');
  if (field) {
    // The browser's autofocus (sign-up's username) may run after this; it must not win.
    const autofocused = [...document.querySelectorAll("[autofocus]")];
    autofocused.forEach((element) => element.removeAttribute("autofocus"));
    field.focus();
    requestAnimationFrame(() => {
      const active = document.activeElement;
      if (active === document.body || autofocused.includes(active)) field.focus();
    });
    return;
  }
  const message = root.querySelector("form .errorlist.nonfield, form [role=alert]");
  if (message) {
    message.tabIndex = -1;
    message.focus();
  }
}

// "More images" appends to a list and replaces itself: without this the focus would fall back
// to the top of the page. It moves to the first new item instead.
let listLength = null;
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  listLength = target && target.matches("ul, ol") ? target.children.length : null;
});
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.target;
  if (listLength === null || !target || !target.matches("ul, ol")) return;
  const first = target.children[listLength];
  listLength = null;
  // The first control a user can see: a tile's select box is hidden outside select mode.
  const focusable =
    first &&
    [...first.querySelectorAll("a[href], button, input, [tabindex]")].find((element) =>
      element.checkVisibility(),
    );
  if (focusable && document.activeElement === document.body) focusable.focus();
});

function init(root) {
  initCounters(root);
  initCopyButtons(root);
  initNotifyToggle(root);
  watchCards(root);
  if (pendingFiles.length && root.querySelector && root.querySelector(".dropzone")) syncFiles();
  labelCells(root);
}

document.addEventListener("DOMContentLoaded", () => {
  init(document);
  focusFirstError(document);
});
// htmx swaps in new fragments (the re-shaped form): enhance them too.
document.addEventListener("htmx:load", (event) => init(event.detail.elt));
// Only after a submit: a form that checks itself on every change (compare) must not pull the
// focus away from the control being changed.
document.addEventListener("htmx:afterSettle", (event) => {
  const config = event.detail.requestConfig;
  const trigger = config && config.triggeringEvent;
  if (!trigger || trigger.type !== "submit" || !event.detail.elt) return;
  // An outerHTML swap replaced the element the request came from: find its successor.
  let root = event.detail.elt;
  if (!root.isConnected) root = (root.id && document.getElementById(root.id)) || document;
  focusFirstError(root);
});
