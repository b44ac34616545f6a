// The replay of a training run (ui/widgets/training_replay.py), played in this browser: the fixed test images'
// codes at one moment of training as a scatter coloured by class, on fixed axes, with the prior's 1σ and 2σ
// circles for a VAE; the decoder's grid at that moment beside it; a time slider over the frames and Play/Pause.
// The whole run arrives once (vae_core/serving/replay_payload.py, kept on globalThis.__vle by fingerprint):
// moving the slider or playing repaints on the next animation frame, with no message to the server.
// Needs mlp_decoder.js in front of it (vleBytes, vleFloats, vleStats, vleRecord and the page-wide cache).

const REPLAY_FORMAT = "vle-replay/1";
const KEPT_REPLAYS = 6;  // replays kept per page (a live run sends a longer one every few polls): the oldest go
const DOT_PX = 3;

function replays() {
  return VLE.replays || (VLE.replays = new Map());  // fingerprint -> unpacked replay, oldest first
}

function unpackReplay(payload) {
  // A payload from replay_payload -> typed arrays, and each frame's grid as an Image that starts loading now.
  const grids = payload.grids.map((url) => { const img = new Image(); img.src = url; return img; });
  return {
    nFrames: payload.n_frames, n: payload.n, codes: vleFloats(payload.codes, "float16"),
    labels: vleBytes(payload.labels), steps: payload.steps, epochs: payload.epochs, extent: payload.extent,
    prior: payload.prior_centre, grids,
  };
}

function rememberReplays(blobs) {
  const kept = replays();
  for (const [fp, payload] of Object.entries(blobs || {})) {
    if (!payload || payload.format !== REPLAY_FORMAT || kept.has(fp)) continue;
    kept.set(fp, unpackReplay(payload));
    VLE.have.add(fp);
    while (kept.size > KEPT_REPLAYS) {  // forgotten here: Python is told through `missing` if it is needed again
      const oldest = kept.keys().next().value;
      kept.delete(oldest);
      VLE.have.delete(oldest);
    }
  }
}

function wireReplay(root) {
  const el = (cls) => root.querySelector(cls);
  const s = {
    root, wrap: el(".vle-tr"), plane: el(".vle-tr-plane"), bg: el("canvas.vle-tr-bg"), fg: el("canvas.vle-tr-fg"),
    grid: el("canvas.vle-tr-grid"), gridCaption: el(".vle-tr-grid-caption"), play: el("button.vle-tr-play"),
    slider: el("input.vle-tr-frame"), label: el(".vle-tr-label"), legend: el(".vle-tr-legend"),
    status: el(".vle-tr-status"), data: null, loaded: null, replay: null, fp: null, k: 0, playing: false, lastAdvance: 0,
    pending: false, width: 0, view: null,
  };
  s.slider.addEventListener("input", () => {
    s.k = Number(s.slider.value);
    if (s.data) vleStats(s.data.id).events += 1;
    schedule(s);
  });
  s.play.addEventListener("click", () => (s.playing ? pause(s) : play(s)));
  new ResizeObserver(() => {
    if (s.replay && fitWidth(s)) { drawAxes(s); schedule(s); }
  }).observe(s.wrap);
  return s;
}

function play(s) {
  if (!s.replay) return;
  if (s.k >= s.replay.nFrames - 1) s.k = 0;  // at the end: play from the start again
  s.playing = true;
  s.lastAdvance = performance.now();
  s.play.textContent = "Pause";
  s.wrap.dataset.playing = "true";
  schedule(s);
  requestAnimationFrame((t) => tick(s, t));
}

function pause(s) {
  s.playing = false;
  s.play.textContent = "Play";
  s.wrap.dataset.playing = "false";
}

function tick(s, now) {
  // One animation frame while playing: the next frame once 1/fps seconds have passed (fps 0: every animation
  // frame), to the last frame of the run and no further.
  if (!s.playing || !s.replay) return;
  const interval = s.data.fps > 0 ? 1000 / s.data.fps : 0;
  if (now - s.lastAdvance >= interval) {
    s.lastAdvance = interval > 0 && now - s.lastAdvance < 2 * interval ? s.lastAdvance + interval : now;
    s.k = Math.min(s.k + 1, s.replay.nFrames - 1);
    paint(s);
    if (s.k >= s.replay.nFrames - 1) { pause(s); return; }
  }
  requestAnimationFrame((t) => tick(s, t));
}

function schedule(s) {
  if (s.pending) return;
  s.pending = true;
  requestAnimationFrame(() => { s.pending = false; paint(s); });
}

function theme(s) {
  // The theme's paper, ink and font, read from the page (the plane's background is Streamlit's, the text colour
  // its text), so the replay follows the light or dark theme as the pad does.
  const paper = getComputedStyle(s.bg).backgroundColor;
  const style = getComputedStyle(s.wrap);
  const missing = (c) => !c || c === "transparent" || c.replace(/\s/g, "") === "rgba(0,0,0,0)";
  return {
    paper: missing(paper) ? "#fff" : paper, ink: missing(style.color) ? "#000" : style.color,
    font: style.fontFamily || "sans-serif",
  };
}

function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((v) => v >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toFixed(10)));
  return ticks;
}

function fmt(v) { return Number(v.toFixed(6)).toString().replace("-", "−"); }

function sizeCanvas(canvas, width, height) {
  const dpr = globalThis.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function fitWidth(s) {
  // The scatter takes what the row leaves beside the grid, up to data.plane_px; true when its width changed.
  const d = s.data;
  const room = (s.wrap.clientWidth || d.plane_px + d.grid_px + 14) - d.grid_px - 14;
  const width = Math.round(Math.max(200, Math.min(d.plane_px, room)));
  if (width === s.width) return false;
  s.width = width;
  return true;
}

function margins(fontPx) {
  // Room for the tick labels and axis titles, which grow with the text (projector mode).
  return { left: Math.round(2.9 * fontPx), right: 8, top: 8, bottom: 2 * fontPx + 12 };
}

function planeView(s) {
  // Equal scales on both axes: the replay's extent fits the plot area, whose height follows its aspect.
  const margin = margins(s.data.font_px);
  const [x0, x1, y0, y1] = s.replay.extent;
  const w = s.width - margin.left - margin.right;
  const scale = Math.min(w / (x1 - x0), w / (y1 - y0));
  const h = Math.round((y1 - y0) * scale);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  return {
    w, h, scale, height: h + margin.top + margin.bottom, margin,
    px: (x) => margin.left + w / 2 + (x - cx) * scale, py: (y) => margin.top + h / 2 - (y - cy) * scale,
    x: [cx - w / 2 / scale, cx + w / 2 / scale], y: [y0, y1],
  };
}

function drawAxes(s) {
  // What does not change with the frame: the paper, grid lines, frame, tick labels and axis titles.
  const v = s.view = planeView(s);
  const ctx = sizeCanvas(s.bg, s.width, v.height);
  sizeCanvas(s.fg, s.width, v.height);
  const { paper, ink, font } = theme(s);
  const fontPx = s.data.font_px;  // projector mode: its 18 px, like every chart's ticks
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, s.width, v.height);
  const box = { left: v.margin.left, top: v.margin.top, width: v.w, height: v.h };
  const xTicks = niceTicks(v.x[0], v.x[1], 5), yTicks = niceTicks(v.y[0], v.y[1], 5);
  ctx.strokeStyle = ink; ctx.lineWidth = 1;
  ctx.globalAlpha = 0.1;
  for (const t of xTicks) { ctx.beginPath(); ctx.moveTo(v.px(t), box.top); ctx.lineTo(v.px(t), box.top + box.height); ctx.stroke(); }
  for (const t of yTicks) { ctx.beginPath(); ctx.moveTo(box.left, v.py(t)); ctx.lineTo(box.left + box.width, v.py(t)); ctx.stroke(); }
  ctx.globalAlpha = 0.35;
  ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width - 1, box.height - 1);
  ctx.globalAlpha = 1;
  ctx.fillStyle = ink;
  ctx.font = `${fontPx}px ${font}`;
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const t of xTicks) ctx.fillText(fmt(t), v.px(t), box.top + box.height + 3);
  ctx.fillText(s.data.axis_titles[0], box.left + box.width / 2, box.top + box.height + fontPx + 6);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const t of yTicks) ctx.fillText(fmt(t), box.left - 4, v.py(t));
  ctx.save();
  ctx.translate(fontPx / 2 + 1, box.top + box.height / 2); ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center"; ctx.fillText(s.data.axis_titles[1], 0, 0);
  ctx.restore();
}

function drawCodes(s) {
  // The frame's codes, one colour per class, then the prior's circles over them (1σ dashed, 2σ dotted, as
  // ui/figures/latent.add_prior_circles draws them on the Latent space page).
  const r = s.replay, v = s.view, d = s.data;
  const ctx = s.fg.getContext("2d");
  ctx.clearRect(0, 0, s.width, v.height);
  ctx.save();
  ctx.beginPath(); ctx.rect(v.margin.left, v.margin.top, v.w, v.h); ctx.clip();
  const classes = d.colours.classes;
  const offset = 2 * r.n * s.k;
  ctx.globalAlpha = 0.75;
  for (let c = 0; c < classes.length; c++) {
    ctx.fillStyle = classes[c];
    for (let i = 0; i < r.n; i++) {
      if (r.labels[i] % classes.length !== c) continue;
      ctx.fillRect(v.px(r.codes[offset + 2 * i]) - DOT_PX / 2, v.py(r.codes[offset + 2 * i + 1]) - DOT_PX / 2, DOT_PX, DOT_PX);
    }
  }
  ctx.globalAlpha = 1;
  if (r.prior) {
    ctx.strokeStyle = d.colours.prior; ctx.lineWidth = 2.5;
    [[1, [8, 5]], [2, [2, 4]]].forEach(([radius, dash]) => {
      ctx.setLineDash(dash);
      ctx.beginPath(); ctx.arc(v.px(r.prior[0]), v.py(r.prior[1]), radius * v.scale, 0, 2 * Math.PI); ctx.stroke();
    });
    ctx.setLineDash([]);
  }
  ctx.restore();
}

function drawGrid(s) {
  const img = s.replay.grids[s.k];
  const ctx = s.gridCtx;
  if (!img.complete || !img.naturalWidth) {  // still decoding: drawn when it is, if it is still this frame's
    const k = s.k, replay = s.replay;
    img.onload = () => { if (s.k === k && s.replay === replay) drawGrid(s); };
    return;
  }
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, s.grid.width, s.grid.height);
  ctx.drawImage(img, 0, 0, s.grid.width, s.grid.height);
}

function frameLabel(r, k) {
  const step = r.steps[k].toLocaleString("en-US");
  return `step ${step} · epoch ${r.epochs[k].toFixed(1)} (frame ${k + 1} of ${r.nFrames})`;
}

function paint(s) {
  if (!s.replay || !s.view) return;
  const t0 = performance.now();
  drawCodes(s);
  drawGrid(s);
  s.slider.value = String(s.k);
  s.label.textContent = frameLabel(s.replay, s.k);
  const t1 = performance.now();
  vleRecord(vleStats(s.data.id), t1 - t0, t1);
  s.wrap.dataset.frame = String(s.k);
  s.wrap.dataset.painted = String(vleStats(s.data.id).decodes);
}

function askFor(s, fp) {
  // Python thinks this page holds the replay but it does not (a reloaded tab, or one of KEPT_REPLAYS forgotten):
  // ask once for it; the run this starts sends it again.
  const tag = `${s.data.id} ${fp}`;
  if (VLE.asked.has(tag)) { s.status.textContent = "The replay did not arrive; reload the page."; return; }
  VLE.asked.add(tag);
  s.status.textContent = "Loading the replay…";
  s.setTriggerValue("missing", [fp]);
}

function drawLegend(s) {
  const d = s.data;
  s.legend.replaceChildren(...d.class_names.map((name, c) => {
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = d.colours.classes[c % d.colours.classes.length];
    item.append(dot, name);
    return item;
  }));
}

export default function (component) {
  const { parentElement, data, setTriggerValue } = component;
  if (!parentElement.__vleReplay) parentElement.__vleReplay = wireReplay(parentElement);
  const s = parentElement.__vleReplay;
  const old = s.loaded;  // the data last set up in full (not a run that found its replay missing)
  s.data = data;
  s.setTriggerValue = setTriggerValue;
  s.wrap.dataset.vleId = data.id;
  s.wrap.style.fontSize = `${data.font_px}px`;
  rememberReplays(data.blobs);
  const replay = replays().get(data.replay);
  if (!replay) { askFor(s, data.replay); return; }
  s.status.textContent = "";
  s.loaded = data;
  if (!old || JSON.stringify(old.class_names) !== JSON.stringify(data.class_names)) drawLegend(s);
  s.gridCaption.textContent = data.grid_caption;
  if (s.fp !== data.replay) {
    const before = s.replay;
    // A live run that grew follows its newest frame unless the slider was moved back; any other new replay
    // starts at its first frame.
    const following = data.live && (!before || s.k >= before.nFrames - 1);
    s.k = following ? replay.nFrames - 1 : data.live ? Math.min(s.k, replay.nFrames - 1) : 0;
    if (!data.live && before) pause(s);
    s.replay = replay;
    s.fp = data.replay;
    s.wrap.dataset.fingerprint = data.replay;
    s.wrap.dataset.frames = String(replay.nFrames);
    Object.assign(s.slider, { min: "0", max: String(replay.nFrames - 1), step: "1" });
    s.width = 0;  // the extent may have changed (a live PCA plane is replaced by the final model's)
  }
  if (!old || old.grid_px !== data.grid_px) {
    s.grid.width = s.grid.height = Math.round(data.grid_px * (globalThis.devicePixelRatio || 1));
    s.grid.style.width = s.grid.style.height = `${data.grid_px}px`;
    s.gridCtx = s.grid.getContext("2d");
    s.root.querySelector(".vle-tr-side").style.width = `${data.grid_px}px`;
  }
  if (fitWidth(s) || !old || old.font_px !== data.font_px || JSON.stringify(old.axis_titles) !== JSON.stringify(data.axis_titles)) {
    drawAxes(s);
  }
  schedule(s);
}
