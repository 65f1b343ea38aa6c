// decensor studio: paint a mask over a page, fill it on the local server, save the result.
// No framework: two canvases (the page, and the mask above it) under one CSS transform.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  pages: [], name: null, image: null, filled: null, job: null,
  tool: "brush", size: 24, drawing: false, last: null,
  scale: 1, x: 0, y: 0, panning: null, space: false,
  undo: [], redo: [], showingBefore: false,
};
const page = $("canvas"), mask = $("mask");
const pageCtx = page.getContext("2d"), maskCtx = mask.getContext("2d");
const MAX_UNDO = 30;

function say(text, error = false) {
  $("message").textContent = text;
  $("status").classList.toggle("error", error);
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
  const response = await fetch(path, options);
  const kind = response.headers.get("Content-Type") || "";
  const value = kind.startsWith("application/json") ? await response.json() : await response.blob();
  if (!response.ok) throw new Error(value.error || response.statusText);
  return value;
}

function loadImage(src) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("the page could not be shown"));
    image.src = src;
  });
}

// Pages
async function loadPages() {
  const {pages, folder, out} = await api("/api/pages");
  state.pages = pages;
  $("folder").textContent = `${folder} → ${out}`;
  const list = $("pages");
  list.replaceChildren(...pages.map((name) => {
    const item = document.createElement("li");
    item.textContent = name;
    item.dataset.name = name;
    item.tabIndex = 0;
    item.addEventListener("click", () => openPage(name));
    return item;
  }));
  if (!pages.length) say("No pages in this folder.", true);
}

async function openPage(name) {
  setBusy(true);
  try {
    const blob = await api(`/api/page?name=${encodeURIComponent(name)}`);
    const image = await loadImage(URL.createObjectURL(blob));
    state.name = name; state.image = image; state.filled = null; state.job = null;
    state.undo = []; state.redo = [];
    for (const canvas of [page, mask]) { canvas.width = image.width; canvas.height = image.height; }
    drawPage(image);
    maskCtx.clearRect(0, 0, mask.width, mask.height);
    for (const item of $("pages").children) item.classList.toggle("current", item.dataset.name === name);
    fitView();
    say(`${name}: ${image.width}x${image.height}. Paint over what to restore, then Fill.`);
  } catch (error) {
    say(`${name}: ${error.message}`, true);
  } finally {
    setBusy(false);
  }
}

function drawPage(image) {
  pageCtx.clearRect(0, 0, page.width, page.height);
  pageCtx.drawImage(image, 0, 0);
}

function step(offset) {
  if (!state.pages.length) return;
  const index = Math.max(0, state.pages.indexOf(state.name));
  openPage(state.pages[(index + offset + state.pages.length) % state.pages.length]);
}

// View: zoom and pan
function applyView() {
  $("layers").style.transform = `translate(${state.x}px, ${state.y}px) scale(${state.scale})`;
}

function fitView() {
  const stage = $("stage").getBoundingClientRect();
  state.scale = Math.min(stage.width / page.width, stage.height / page.height, 1) || 1;
  state.x = (stage.width - page.width * state.scale) / 2;
  state.y = (stage.height - page.height * state.scale) / 2;
  applyView();
}

function toImage(event) {
  const stage = $("stage").getBoundingClientRect();
  return {x: (event.clientX - stage.left - state.x) / state.scale, y: (event.clientY - stage.top - state.y) / state.scale};
}

// Painting
function remember() {
  state.undo.push(maskCtx.getImageData(0, 0, mask.width, mask.height));
  if (state.undo.length > MAX_UNDO) state.undo.shift();
  state.redo = [];
}

function stroke(from, to) {
  maskCtx.globalCompositeOperation = state.tool === "eraser" ? "destination-out" : "source-over";
  maskCtx.strokeStyle = maskCtx.fillStyle = "rgb(255, 0, 90)";
  maskCtx.lineWidth = state.size;
  maskCtx.lineCap = maskCtx.lineJoin = "round";
  maskCtx.beginPath();
  maskCtx.moveTo(from.x, from.y);
  maskCtx.lineTo(to.x, to.y);
  maskCtx.stroke();
}

function swap(from, to) {
  if (!from.length) return;
  to.push(maskCtx.getImageData(0, 0, mask.width, mask.height));
  maskCtx.putImageData(from.pop(), 0, 0);
}

function setTool(tool) {
  state.tool = tool;
  $("brush").classList.toggle("active", tool === "brush");
  $("eraser").classList.toggle("active", tool === "eraser");
}

function setSize(size) {
  state.size = Math.max(2, Math.min(200, Math.round(size)));
  $("size").value = state.size;
  $("size-value").textContent = state.size;
}

async function setMask(dataUrl) {
  const image = await loadImage(dataUrl);
  remember();
  // The server's mask is white where found: keep those pixels, in the mask's colour.
  const scratch = document.createElement("canvas");
  scratch.width = mask.width; scratch.height = mask.height;
  const ctx = scratch.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const pixels = ctx.getImageData(0, 0, scratch.width, scratch.height);
  const current = maskCtx.getImageData(0, 0, mask.width, mask.height);
  let found = 0;
  for (let i = 0; i < pixels.data.length; i += 4) {
    if (pixels.data[i] >= 128) {
      current.data.set([255, 0, 90, 255], i);
      found += 1;
    }
  }
  maskCtx.putImageData(current, 0, 0);
  return found;
}

function maskDataUrl() {
  return mask.toDataURL("image/png");
}

// Server actions
function setBusy(busy) {
  document.body.classList.toggle("busy", busy);
  for (const id of ["fill", "save", "find-marks", "find-mosaics"]) $(id).disabled = busy;
}

async function find(kind) {
  if (!state.name) return;
  setBusy(true);
  say(kind === "marks" ? "Looking for green paint…" : "Looking for mosaics…");
  try {
    const answer = await api(`/api/${kind}`, {name: state.name});
    const found = await setMask(answer.mask);
    const extra = [...(answer.warnings || []), ...(answer.notes || [])].join("; ");
    say(found ? `Found ${found} px${extra ? ` (${extra})` : ""}: edit the mask, then Fill.`
              : `Nothing found${kind === "marks" ? " (paint is pure green, #00ff00)" : ""}.`);
  } catch (error) {
    say(error.message, true);
  } finally {
    setBusy(false);
  }
}

async function fill() {
  if (!state.name) return;
  const mode = document.querySelector("input[name=mode]:checked").value;
  setBusy(true);
  const progress = $("progress");
  progress.hidden = false; progress.value = 0;
  say("Filling…");
  try {
    const {job} = await api("/api/fill", {name: state.name, mode, mask: maskDataUrl()});
    let status;
    do {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await api(`/api/job?id=${job}`);
      progress.value = status.progress;
    } while (status.state === "waiting" || status.state === "running");
    if (status.state !== "done") throw new Error(status.message || "the fill failed");
    const blob = await api(`/api/result?id=${job}`);
    state.filled = await loadImage(URL.createObjectURL(blob));
    state.job = job;
    drawPage(state.filled);
    $("mask").classList.add("hidden");
    $("toggle-mask").textContent = "Show mask";
    say(`Filled${status.message ? ` (${status.message})` : ""}. Hold C or "Before / after" to compare; Save writes it.`);
  } catch (error) {
    say(error.message, true);
  } finally {
    progress.hidden = true;
    setBusy(false);
  }
}

async function save() {
  if (!state.job) { say("Fill first, then save.", true); return; }
  setBusy(true);
  try {
    const {saved} = await api("/api/save", {job: state.job});
    for (const item of $("pages").children) if (item.dataset.name === state.name) item.classList.add("saved");
    say(`Saved as ${saved} in the output folder.`);
  } catch (error) {
    say(error.message, true);
  } finally {
    setBusy(false);
  }
}

function showBefore(before) {
  if (!state.filled || state.showingBefore === before) return;
  state.showingBefore = before;
  drawPage(before ? state.image : state.filled);
}

function toggleMask() {
  const hidden = $("mask").classList.toggle("hidden");
  $("toggle-mask").textContent = hidden ? "Show mask" : "Hide mask";
}

// Events
const stage = $("stage");
stage.addEventListener("contextmenu", (event) => event.preventDefault());
stage.addEventListener("pointerdown", (event) => {
  if (!state.image) return;
  stage.setPointerCapture(event.pointerId);
  if (event.button === 1 || event.button === 2 || state.space) {
    state.panning = {x: event.clientX - state.x, y: event.clientY - state.y};
    return;
  }
  if (event.button !== 0) return;
  remember();
  state.drawing = true;
  state.last = toImage(event);
  stroke(state.last, state.last);
});
stage.addEventListener("pointermove", (event) => {
  if (state.panning) {
    state.x = event.clientX - state.panning.x; state.y = event.clientY - state.panning.y;
    applyView();
  } else if (state.drawing) {
    const point = toImage(event);
    stroke(state.last, point);
    state.last = point;
  }
});
for (const name of ["pointerup", "pointercancel"]) {
  stage.addEventListener(name, () => { state.drawing = false; state.panning = null; });
}
stage.addEventListener("wheel", (event) => {
  event.preventDefault();
  const before = toImage(event);
  state.scale = Math.max(0.05, Math.min(16, state.scale * (event.deltaY < 0 ? 1.15 : 1 / 1.15)));
  const box = stage.getBoundingClientRect();
  state.x = event.clientX - box.left - before.x * state.scale;
  state.y = event.clientY - box.top - before.y * state.scale;
  applyView();
}, {passive: false});

$("brush").addEventListener("click", () => setTool("brush"));
$("eraser").addEventListener("click", () => setTool("eraser"));
$("size").addEventListener("input", (event) => setSize(event.target.value));
$("undo").addEventListener("click", () => swap(state.undo, state.redo));
$("redo").addEventListener("click", () => swap(state.redo, state.undo));
$("toggle-mask").addEventListener("click", toggleMask);
$("clear").addEventListener("click", () => { remember(); maskCtx.clearRect(0, 0, mask.width, mask.height); });
$("find-marks").addEventListener("click", () => find("marks"));
$("find-mosaics").addEventListener("click", () => find("mosaics"));
$("fill").addEventListener("click", fill);
$("save").addEventListener("click", save);
const compare = $("compare");
compare.addEventListener("pointerdown", () => showBefore(true));
for (const name of ["pointerup", "pointerleave"]) compare.addEventListener(name, () => showBefore(false));

document.addEventListener("keydown", (event) => {
  if (event.target.tagName === "INPUT") return;
  const key = event.key.toLowerCase();
  const command = event.ctrlKey || event.metaKey;
  if (command && key === "z") { event.preventDefault(); event.shiftKey ? swap(state.redo, state.undo) : swap(state.undo, state.redo); }
  else if (command && key === "y") { event.preventDefault(); swap(state.redo, state.undo); }
  else if (command && key === "s") { event.preventDefault(); save(); }
  else if (command) return;
  else if (key === "[") setSize(state.size / 1.25);
  else if (key === "]") setSize(state.size * 1.25);
  else if (key === "b") setTool("brush");
  else if (key === "e") setTool("eraser");
  else if (key === "m") toggleMask();
  else if (key === "f") fill();
  else if (key === "c") showBefore(true);
  else if (key === "n" || key === "arrowdown") step(1);
  else if (key === "p" || key === "arrowup") step(-1);
  else if (key === " ") { state.space = true; event.preventDefault(); }
});
document.addEventListener("keyup", (event) => {
  if (event.key === " ") state.space = false;
  if (event.key.toLowerCase() === "c") showBefore(false);
});
window.addEventListener("resize", () => { if (state.image) fitView(); });

loadPages().catch((error) => say(error.message, true));
