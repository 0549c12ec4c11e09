// grformer's web page: choose or drop an image, upscale it with
// POST /v1/upscale, compare before and after, download.
//
// document.body.dataset.state follows the request: idle, ready, uploading,
// processing, downloading, done or error; window.grformerStates lists the
// states passed through for the last image (the browser test reads both).
"use strict";

const $ = (id) => document.getElementById(id);
let file = null, beforeURL = null, afterURL = null, limits = null;
window.grformerStates = [];

function setState(state, text, fraction) {
  document.body.dataset.state = state;
  window.grformerStates.push(state);
  if (text !== undefined) $("statusText").textContent = text;
  $("barFill").style.width = fraction === undefined ? "0" : Math.round(100 * fraction) + "%";
}

function fmtBytes(n) {
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MiB";
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + " KiB";
  return n + " B";
}

async function loadModels() {
  try {
    const r = await fetch("/v1/models");
    if (!r.ok) throw new Error("HTTP " + r.status);
    const info = await r.json();
    limits = info.limits;
    const sel = $("scale");
    sel.textContent = "";
    for (const m of info.models) {
      const o = document.createElement("option");
      o.value = m.scale;
      o.textContent = "×" + m.scale;
      if (m.default) o.selected = true;
      sel.append(o);
    }
    $("models").textContent = "Models: " + info.models.map((m) =>
      "×" + m.scale + " (" + (m.params / 1e6).toFixed(2) + " M parameters)").join(", ") + ".";
    $("limits").textContent = "PNG, JPEG, WebP, BMP or TIFF; up to " + fmtBytes(limits.max_body_bytes) +
      " and " + (limits.max_pixels / 1e6).toFixed(1) + " megapixels";
  } catch (e) {
    $("models").textContent = "Could not list the models: " + e.message;
  }
}

function choose(f) {
  if (!f) return;
  file = f;
  if (beforeURL) URL.revokeObjectURL(beforeURL);
  beforeURL = URL.createObjectURL(f);
  $("chosen").hidden = false;
  $("chosen").textContent = f.name + " (" + fmtBytes(f.size) + ")";
  $("result").hidden = true;
  window.grformerStates = [];
  if (limits && f.size > limits.max_body_bytes) {
    $("go").disabled = true;
    setState("error", "This file is " + fmtBytes(f.size) + ", over the server's limit of " + fmtBytes(limits.max_body_bytes) + ".");
    return;
  }
  $("go").disabled = false;
  showQuality();
  setState("ready", "Ready: pick the options and press Upscale.");
}

function outName(name, scale, format, type) {
  const dot = name.lastIndexOf(".");
  const base = dot > 0 ? name.slice(0, dot) : name;
  const ext = (format || (type === "image/jpeg" ? "jpeg" : "png")) === "jpeg" ? ".jpg" : ".png";
  return base + "_x" + scale + ext;
}

function upscale() {
  if (!file) return;
  const q = new URLSearchParams();
  q.set("scale", $("scale").value);
  if ($("outscale").value) q.set("outscale", $("outscale").value);
  if ($("format").value) q.set("format", $("format").value);
  if (jpegOut()) q.set("quality", $("quality").value);
  if ($("tta").checked) q.set("tta", "true");

  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/upscale?" + q.toString());
  xhr.responseType = "blob";
  const t0 = performance.now();
  let timer = null;
  const processing = () => {
    if (document.body.dataset.state === "processing") return;
    setState("processing", "Processing…");
    timer = setInterval(() => {
      $("statusText").textContent = "Processing… " + ((performance.now() - t0) / 1000).toFixed(1) + " s";
    }, 200);
  };
  const stop = () => { if (timer) clearInterval(timer); timer = null; };
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) setState("uploading", "Uploading… " + Math.round(100 * e.loaded / e.total) + "%", e.loaded / e.total);
  };
  xhr.upload.onload = processing;
  xhr.onreadystatechange = () => {
    if (xhr.readyState === XMLHttpRequest.HEADERS_RECEIVED) {
      processing(); // tiny uploads may fire no upload events
      stop();
      if (xhr.status === 200) setState("downloading", "Downloading the result…", 0);
    }
  };
  xhr.onprogress = (e) => {
    if (xhr.status === 200 && e.lengthComputable) setState("downloading", "Downloading… " + Math.round(100 * e.loaded / e.total) + "%", e.loaded / e.total);
  };
  xhr.onerror = () => { stop(); $("go").disabled = false; setState("error", "The request failed: network error or server gone."); };
  xhr.ontimeout = xhr.onerror;
  xhr.onload = async () => {
    stop();
    $("go").disabled = false;
    if (xhr.status !== 200) {
      let msg = "HTTP " + xhr.status;
      try { msg += ": " + JSON.parse(await xhr.response.text()).error; } catch (_) { /* not JSON */ }
      if (xhr.status === 429) msg += " The server is busy; try again in a moment.";
      setState("error", msg);
      return;
    }
    const blob = xhr.response;
    if (afterURL) URL.revokeObjectURL(afterURL);
    afterURL = URL.createObjectURL(blob);
    const after = $("after");
    after.onload = () => {
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const scale = xhr.getResponseHeader("X-Grformer-Scale");
      const inSize = xhr.getResponseHeader("X-Grformer-Input-Size");
      document.body.dataset.outWidth = after.naturalWidth;
      document.body.dataset.outHeight = after.naturalHeight;
      document.body.dataset.outBytes = blob.size;
      $("resultInfo").textContent = inSize.replace("x", "×") + " → " + after.naturalWidth + "×" + after.naturalHeight +
        " (×" + scale + " model), " + fmtBytes(blob.size);
      $("download").href = afterURL;
      $("download").download = outName(file.name, $("outscale").value || scale, $("format").value, blob.type);
      $("result").hidden = false;
      setState("done", "Done in " + secs + " s. Drag across the image to compare.", 1);
    };
    after.onerror = () => setState("error", "The result could not be shown.");
    $("before").src = beforeURL;
    after.src = afterURL;
  };
  $("go").disabled = true;
  setState("uploading", "Uploading…", 0);
  xhr.send(file);
}

// The JPEG quality matters only for a JPEG result.
function jpegOut() {
  return $("format").value === "jpeg" || ($("format").value === "" && file !== null && file.type === "image/jpeg");
}

function showQuality() { $("qualityLabel").hidden = !jpegOut(); }

function slide() {
  const v = $("slider").value;
  $("beforeWrap").style.clipPath = "inset(0 " + (100 - v) + "% 0 0)";
  $("divider").style.left = v + "%";
}

function init() {
  loadModels();
  const drop = $("drop");
  $("file").addEventListener("change", (e) => choose(e.target.files[0]));
  for (const ev of ["dragenter", "dragover"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  }
  for (const ev of ["dragleave", "drop"]) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  }
  drop.addEventListener("drop", (e) => choose(e.dataTransfer.files[0]));
  $("options").addEventListener("submit", (e) => { e.preventDefault(); upscale(); });
  $("format").addEventListener("change", showQuality);
  $("quality").addEventListener("input", () => { $("qualityOut").textContent = $("quality").value; });
  $("slider").addEventListener("input", slide);
  slide();
}

init();
