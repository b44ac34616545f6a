// The live latent pad: a 2-D latent plane (test codes drawn faintly, the prior's 1σ/2σ circles for a VAE).
// Hovering or dragging decodes the code under the pointer in this browser, once per animation frame, with no
// message to the server; a click sends {z, index of the nearest test code} to Python as the `clicked` trigger.
// Needs mlp_decoder.js in front of it (the Python side concatenates the two).

const PAD_COLOURS = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
                     "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC"];  // ui/figures: Tableau 10
const CLICK_SLOP_PX = 4;  // a press that moves less than this is a click, not a drag

function niceStep(span) {
  const raw = span / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

function wirePad(root) {
  const el = (cls) => root.querySelector(cls);
  const s = {
    root, wrap: el(".vle-lp"), bg: el("canvas.vle-lp-bg"), fg: el("canvas.vle-lp-fg"), img: el("canvas.vle-lp-img"),
    readout: el(".vle-lp-z"), status: el(".vle-lp-status"), data: null, net: null, codes: null,
    loaded: null, z: null, pinned: null, pending: false, press: null, size: 0,
  };
  s.fg.addEventListener("pointermove", (e) => {
    s.z = toLatent(s, e);
    if (s.data) vleStats(s.data.id).events += 1;
    schedule(s);
  });
  s.fg.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    s.fg.setPointerCapture(e.pointerId);
    s.press = { x: e.clientX, y: e.clientY, moved: false };
    s.z = toLatent(s, e); schedule(s);
  });
  s.fg.addEventListener("pointermove", (e) => {
    if (s.press && Math.hypot(e.clientX - s.press.x, e.clientY - s.press.y) > CLICK_SLOP_PX) s.press.moved = true;
  });
  s.fg.addEventListener("pointerup", (e) => {
    const press = s.press;
    s.press = null;
    if (!press || press.moved || !s.data) return;  // the end of a drag: nothing goes to the server
    const z = toLatent(s, e);
    s.pinned = z;
    schedule(s);
    if (!s.data.clickable) return;
    const index = nearest(s, z);
    s.wrap.dataset.clicked = String(index);
    s.setTriggerValue("clicked", { z, index });
  });
  s.fg.addEventListener("pointercancel", () => { s.press = null; });
  new ResizeObserver(() => {
    if (s.data && s.net && fitSize(s)) { drawBackground(s); drawMarkers(s); }
  }).observe(s.wrap);
  return s;
}

function view(s) {
  // An equal-scale square view that holds data.range ([[x0, x1], [y0, y1]]).
  const [[x0, x1], [y0, y1]] = s.data.range;
  const span = Math.max(x1 - x0, y1 - y0) || 1;
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale: s.size / span };
}

function toPixel(s, v, z) {
  const half = s.size / 2;
  return [half + (z[0] - v.cx) * v.scale, half - (z[1] - v.cy) * v.scale];
}

function toLatent(s, e) {
  const r = s.fg.getBoundingClientRect();
  const v = view(s);
  const half = s.size / 2;
  const px = (e.clientX - r.left) * s.size / r.width, py = (e.clientY - r.top) * s.size / r.height;
  return [v.cx + (px - half) / v.scale, v.cy - (py - half) / v.scale];
}

function nearest(s, z) {
  if (!s.codes) return null;
  const { n, codes } = s.codes;
  let best = -1, bestD = Infinity;
  for (let i = 0; i < n; i++) {
    const dx = codes[2 * i] - z[0], dy = codes[2 * i + 1] - z[1];
    const d = dx * dx + dy * dy;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best < 0 ? null : best;
}

function sizeCanvas(canvas, cssPx) {
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(cssPx * dpr);
  canvas.height = Math.round(cssPx * dpr);
  canvas.style.width = canvas.style.height = `${cssPx}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

// The theme's paper and ink, read from the page (CSS: the plane's background and the pad's text colour), so the
// plane follows Streamlit's light or dark theme; white and black where a colour is missing (transparent).
function themeColours(s) {
  const paper = getComputedStyle(s.bg).backgroundColor;
  const ink = getComputedStyle(s.wrap).color;
  const missing = (c) => !c || c === "transparent" || c.replace(/\s/g, "") === "rgba(0,0,0,0)";
  return { paper: missing(paper) ? "#fff" : paper, ink: missing(ink) ? "#000" : ink };
}

function drawBackground(s) {
  const size = s.size;
  const ctx = sizeCanvas(s.bg, size);
  sizeCanvas(s.fg, size);
  const v = view(s);
  const { paper, ink } = themeColours(s);
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, size, size);
  // grid and tick labels, in the ink colour made fainter by alpha
  const step = niceStep(size / v.scale);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = ink;
  ctx.strokeStyle = ink;
  ctx.lineWidth = 1;
  const lo = [v.cx - size / 2 / v.scale, v.cy - size / 2 / v.scale];
  for (let axis = 0; axis < 2; axis++) {
    for (let t = Math.ceil(lo[axis] / step) * step; t < lo[axis] + size / v.scale; t += step) {
      const [px, py] = toPixel(s, v, axis === 0 ? [t, 0] : [0, t]);
      ctx.globalAlpha = Math.abs(t) < step / 2 ? 0.28 : 0.08;
      ctx.beginPath();
      if (axis === 0) { ctx.moveTo(px, 0); ctx.lineTo(px, size); } else { ctx.moveTo(0, py); ctx.lineTo(size, py); }
      ctx.stroke();
      ctx.globalAlpha = 0.55;
      const label = Number(t.toFixed(6)).toString().replace("-", "−");
      // tick labels along the bottom and the left edge, clear of the axis names in the corners
      if (axis === 0 && px > 8 && px < size - 40) ctx.fillText(label, px + 2, size - 3);
      if (axis === 1 && py > 22 && py < size - 14) ctx.fillText(label, 2, py - 2);
    }
  }
  ctx.globalAlpha = 0.55;
  ctx.fillText("z₁ →", size - 28, size - 3);
  ctx.fillText("z₂ ↑", 3, 11);
  ctx.globalAlpha = 1;
  if (s.codes) {  // test codes, faint, one colour per class
    const { n, codes, labels } = s.codes;
    ctx.globalAlpha = n > 3000 ? 0.35 : 0.6;
    const dot = n > 3000 ? 1.6 : 2.4;
    for (let c = 0; c < PAD_COLOURS.length; c++) {
      ctx.fillStyle = PAD_COLOURS[c];
      for (let i = 0; i < n; i++) {
        if (labels[i] % PAD_COLOURS.length !== c) continue;
        const [px, py] = toPixel(s, v, [codes[2 * i], codes[2 * i + 1]]);
        ctx.fillRect(px - dot / 2, py - dot / 2, dot, dot);
      }
    }
    ctx.globalAlpha = 1;
  }
  if (s.data.show_prior) {  // the prior's 1σ and 2σ circles
    const [ox, oy] = toPixel(s, v, [0, 0]);
    ctx.strokeStyle = ink;
    ctx.globalAlpha = 0.85;
    ctx.lineWidth = 1.6;
    [[1, [6, 4]], [2, [2, 3]]].forEach(([r, dash]) => {
      ctx.setLineDash(dash);
      ctx.beginPath(); ctx.arc(ox, oy, r * v.scale, 0, 2 * Math.PI); ctx.stroke();
    });
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }
}

function drawMarkers(s) {
  const size = s.size;
  const ctx = s.fg.getContext("2d");
  ctx.clearRect(0, 0, size, size);
  const v = view(s);
  if (s.pinned) {
    const [px, py] = toPixel(s, v, s.pinned);
    ctx.strokeStyle = themeColours(s).ink; ctx.lineWidth = 2.5;
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
  }
  if (s.z) {
    const [px, py] = toPixel(s, v, s.z);
    ctx.strokeStyle = "#C0392B"; ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(px - 9, py); ctx.lineTo(px + 9, py); ctx.moveTo(px, py - 9); ctx.lineTo(px, py + 9);
    ctx.stroke();
  }
}

function schedule(s) {
  if (s.pending) return;
  s.pending = true;
  requestAnimationFrame(() => frame(s));
}

function frame(s) {
  s.pending = false;
  if (!s.net || !s.z) return;
  const t0 = performance.now();
  const pixels = vleDecode(s.net, s.z);
  vlePaint(s.imgCtx, s.image, pixels, s.net.shape);
  const t1 = performance.now();
  vleRecord(vleStats(s.data.id), t1 - t0, t1);
  drawMarkers(s);
  s.readout.textContent = `z = (${s.z.map((v) => v.toFixed(2).replace("-", "−")).join(", ")})`;
  s.wrap.dataset.decodes = String(vleStats(s.data.id).decodes);
}

const MIN_PAD_PX = 150;
const GAP_PX = 12;  // the flex gap (10 px) and the plane's border

function fitSize(s) {
  // The plane takes what the column leaves beside the image, up to data.size; true when that changed.
  const width = s.wrap.clientWidth || s.data.size + s.data.image_px + GAP_PX;
  const size = Math.round(Math.max(MIN_PAD_PX, Math.min(s.data.size, width - s.data.image_px - GAP_PX)));
  if (size === s.size) return false;
  s.size = size;
  return true;
}

function setUp(s, data) {
  // New data from Python: (re)load what changed; keep the pointer, the pin and the image otherwise.
  const old = s.loaded;  // the data last set up in full (not a run that found a payload missing)
  s.data = data;
  vleRemember(data.blobs);
  const missing = vleMissing([data.decoder, data.codes]);
  if (missing.length) {
    vleAskFor(missing, s.setTriggerValue, s.status, data.id, () => setUp(s, data));
    return;
  }
  s.loaded = data;
  VLE.waiting.delete(data.id);  // a later run had what an earlier one lacked: nothing to resume
  s.status.textContent = "";
  s.net = VLE.nets.get(data.decoder);
  s.codes = data.codes ? VLE.codes.get(data.codes) : null;
  s.wrap.dataset.fingerprint = data.decoder;
  const [, height, width] = s.net.shape;
  if (!old || old.decoder !== data.decoder) {
    s.img.width = width; s.img.height = height;
    s.imgCtx = s.img.getContext("2d");
    s.image = s.imgCtx.createImageData(width, height);
    s.img.style.width = s.img.style.height = `${data.image_px}px`;
    s.root.querySelector(".vle-lp-side").style.width = `${data.image_px}px`;  // text wraps, the image stays beside the plane
    s.z = data.start || [0, 0];
    s.pinned = null;
  }
  if (!old || old.decoder !== data.decoder || old.codes !== data.codes || JSON.stringify(old.range) !== JSON.stringify(data.range)
      || old.size !== data.size || old.show_prior !== data.show_prior || fitSize(s)) {
    fitSize(s);
    drawBackground(s);
  }
  schedule(s);
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  const root = parentElement;
  if (!root.__vlePad) root.__vlePad = wirePad(root);
  const s = root.__vlePad;
  s.setTriggerValue = setTriggerValue;
  s.wrap.dataset.vleId = data.id;
  s.root.querySelector(".vle-lp-title").textContent = data.title || "";
  s.root.querySelector(".vle-lp-hint").textContent = data.hint || "";
  setUp(s, data);
}
