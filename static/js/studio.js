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
  const focusable = first && first.querySelector("a[href], button, input, [tabindex]");
  if (focusable && document.activeElement === document.body) focusable.focus();
});

function init(root) {
  initCounters(root);
  initCopyButtons(root);
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
