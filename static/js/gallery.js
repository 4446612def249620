// The gallery's select mode and viewer. Without this file the gallery still works: every tile
// shows its checkbox for the bulk form, and a tile's link opens the image's own page.
"use strict";

(() => {
  const grid = document.getElementById("gallery-grid");
  const bar = document.getElementById("bulk-form");
  if (!grid || !bar) return;
  const modeButton = document.getElementById("select-mode");
  const count = document.getElementById("selection-count");
  const viewer = document.getElementById("viewer");
  let lastIndex = null; // the tile of the last click, for shift-click ranges
  let current = -1; // the tile the viewer shows

  const tiles = () => [...grid.querySelectorAll(".tile")];
  const selecting = () => grid.classList.contains("selecting");

  function updateCount() {
    const n = grid.querySelectorAll(".tile-check:checked").length;
    count.textContent = n ? count.dataset.some.replace("{n}", n) : count.dataset.none;
  }

  function setMode(on) {
    grid.classList.toggle("selecting", on);
    bar.classList.toggle("selecting", on);
    modeButton.setAttribute("aria-pressed", String(on));
    if (!on) {
      grid.querySelectorAll(".tile-check").forEach((box) => {
        box.checked = false;
      });
      lastIndex = null;
    }
    updateCount();
  }

  function toggle(tile, shift, state) {
    const all = tiles();
    const index = all.indexOf(tile);
    const box = tile.querySelector(".tile-check");
    box.checked = state === undefined ? !box.checked : state;
    if (shift && lastIndex !== null) {
      const [from, to] = index < lastIndex ? [index, lastIndex] : [lastIndex, index];
      all.slice(from, to + 1).forEach((t) => {
        t.querySelector(".tile-check").checked = box.checked;
      });
    }
    lastIndex = index;
    updateCount();
  }

  modeButton.hidden = false;
  modeButton.addEventListener("click", () => setMode(!selecting()));

  grid.addEventListener("click", (event) => {
    const tile = event.target.closest(".tile");
    if (!tile || event.target.closest(".tile-add")) return;
    if (selecting()) {
      if (event.target.matches(".tile-check")) {
        toggle(tile, event.shiftKey, event.target.checked); // the browser has toggled it
      } else {
        event.preventDefault();
        toggle(tile, event.shiftKey);
      }
      return;
    }
    const link = event.target.closest(".tile-link");
    // Modified clicks (new tab, new window) keep the link's own behaviour.
    if (!link || !viewer || event.ctrlKey || event.metaKey || event.shiftKey || event.button) return;
    event.preventDefault();
    open(tiles().indexOf(tile));
  });

  document.addEventListener("keydown", (event) => {
    if (viewer && viewer.open) return;
    const typing = event.target.closest && event.target.closest("input, textarea, select");
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "a" && !typing) {
      event.preventDefault();
      setMode(true);
      grid.querySelectorAll(".tile-check").forEach((box) => {
        box.checked = true;
      });
      updateCount();
    } else if (event.key === " " && selecting() && event.target.closest(".tile-link")) {
      event.preventDefault();
      toggle(event.target.closest(".tile"), event.shiftKey);
    } else if (event.key === "Escape" && selecting() && !typing) {
      setMode(false);
    }
  });

  updateCount();

  // --- The viewer ---------------------------------------------------------------------------
  if (!viewer) return;
  const $ = (id) => document.getElementById(id);
  const image = $("viewer-image");
  const favourite = $("viewer-favourite");
  const favouriteButton = favourite.querySelector("button");

  function showFavourite(on) {
    favourite.querySelector("input[name=favourite]").value = on ? "0" : "1";
    favouriteButton.textContent = on ? favouriteButton.dataset.on : favouriteButton.dataset.off;
    favouriteButton.setAttribute("aria-pressed", String(on));
  }

  function show(index) {
    const all = tiles();
    if (index < 0 || index >= all.length) return;
    current = index;
    const link = all[index].querySelector(".tile-link");
    const d = link.dataset;
    image.removeAttribute("src"); // no stale picture while the next one loads
    image.width = Number(d.width);
    image.height = Number(d.height);
    image.src = d.full;
    image.alt = link.querySelector("img").alt;
    $("viewer-prompt").textContent = d.prompt;
    $("viewer-download").href = d.download;
    $("viewer-again").href = d.again;
    $("viewer-page").href = link.getAttribute("href");
    $("viewer-reference").action = d.reference;
    favourite.action = d.favourite;
    showFavourite(d.fav === "1");
    $("viewer-prev").disabled = index === 0;
    $("viewer-next").disabled = index === all.length - 1;
  }

  function open(index) {
    show(index);
    viewer.showModal();
  }

  $("viewer-prev").addEventListener("click", () => show(current - 1));
  $("viewer-next").addEventListener("click", () => show(current + 1));
  $("viewer-close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") show(current - 1);
    else if (event.key === "ArrowRight") show(current + 1);
    else return;
    event.preventDefault();
  });
  // Back on the page, the keyboard is where the viewer was.
  viewer.addEventListener("close", () => {
    const tile = tiles()[current];
    if (tile) tile.querySelector(".tile-link").focus();
  });

  favourite.addEventListener("submit", async (event) => {
    event.preventDefault();
    const tile = tiles()[current];
    const link = tile.querySelector(".tile-link");
    const on = favourite.querySelector("input[name=favourite]").value === "1";
    const response = await fetch(favourite.action, {
      method: "POST",
      body: new FormData(favourite),
      headers: { "HX-Request": "true" },
    });
    if (!response.ok) return;
    link.dataset.fav = on ? "1" : "0";
    showFavourite(on);
    let mark = tile.querySelector(".fav-mark");
    if (on && !mark) {
      mark = document.createElement("span");
      mark.className = "fav-mark";
      mark.textContent = "★";
      tile.append(mark);
    } else if (!on && mark) {
      mark.remove();
    }
  });
})();
