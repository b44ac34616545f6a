// The Interpolation page's walk from A to B, drawn in this browser: a t slider, the image decoded at z(t), the
// picture of the test codes with the path and z(t) as a star, the norm readout and a small chart of the norms
// along both paths. Python sends the walk precomputed for every t of the slider's grid (vae_core/lessons/walk.py): moving
// t only indexes it, decodes one code and repaints, on the next animation frame, with no message to the server.
// A new path or digit sends new data; the slider stays where it is. Needs mlp_decoder.js in front of it.

const MARGIN = { left: 44, right: 10, top: 10, bottom: 34 };  // room for tick labels and axis titles
const NORMS_PX = 230;  // the norms chart's height, CSS pixels
const MIN_PLANE_PX = 220;

function wireWalk(root) {
  const el = (cls) => root.querySelector(cls);
  const s = {
    root, wrap: el(".vle-lw"), input: el("input.vle-lw-t"), value: el(".vle-lw-value"), img: el("canvas.vle-lw-img"),
    imgCaption: el(".vle-lw-img-caption"), readout: el(".vle-lw-readout"), status: el(".vle-lw-status"),
    picture: el(".vle-lw-picture"), bg: el("canvas.vle-lw-bg"), fg: el("canvas.vle-lw-fg"),
    legend: el(".vle-lw-legend"), caption: el(".vle-lw-caption"), normsCanvas: el("canvas.vle-lw-norms"),
    download: el("a.vle-lw-picture-png"), normsDownload: el("a.vle-lw-norms-png"),
    data: null, loaded: null, net: null, codes: null, k: null, pending: false, width: 0, view: null,
  };
  s.input.addEventListener("input", () => {
    s.k = Number(s.input.value);
    if (s.data) vleStats(s.data.id).events += 1;
    schedule(s);
  });
  // The picture as shown (the fixed part and the star, at the screen's resolution), made when the link is clicked.
  s.download.addEventListener("click", () => {
    const both = document.createElement("canvas");
    both.width = s.bg.width; both.height = s.bg.height;
    const ctx = both.getContext("2d");
    ctx.drawImage(s.bg, 0, 0); ctx.drawImage(s.fg, 0, 0);
    s.download.href = both.toDataURL("image/png");
    s.download.download = `${s.data.file_stem}-t${s.data.ts[s.k].toFixed(2)}.png`;
  });
  s.normsDownload.addEventListener("click", () => {
    s.normsDownload.href = s.normsCanvas.toDataURL("image/png");
    s.normsDownload.download = `${s.data.norms_file_stem}-t${s.data.ts[s.k].toFixed(2)}.png`;
  });
  new ResizeObserver(() => {
    if (s.loaded && s.net && fitWidth(s)) { drawPicture(s); schedule(s); }
  }).observe(s.wrap);
  return s;
}

function fmt(v, digits = 2) { return v.toFixed(digits).replace("-", "−"); }

function theme(s) {
  // The theme's paper, ink and font, read from the page (CSS: the canvases' background is Streamlit's, the text
  // colour its text), so the walk follows the light or dark theme as the pad does; white and black where a colour
  // is missing (transparent). The path, A and B, the prior's circles and outlines are drawn in ink.
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
  // The picture takes the column beside the image; true when its width changed.
  const width = Math.max(MIN_PLANE_PX, Math.round(s.picture.clientWidth || 480));
  if (width === s.width) return false;
  s.width = width;
  return true;
}

function planeView(s) {
  // Equal scales on both axes (like the plotly scatter's scaleanchor): data.range fits in the plot area.
  const [[x0, x1], [y0, y1]] = s.data.range;
  const w = s.width - MARGIN.left - MARGIN.right, h = s.data.height - MARGIN.top - MARGIN.bottom;
  const scale = Math.min(w / (x1 - x0 || 1), h / (y1 - y0 || 1));
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const px = (x) => MARGIN.left + w / 2 + (x - cx) * scale;
  const py = (y) => MARGIN.top + h / 2 - (y - cy) * scale;
  return { w, h, scale, px, py, x: [cx - w / 2 / scale, cx + w / 2 / scale], y: [cy - h / 2 / scale, cy + h / 2 / scale] };
}

function drawAxes(ctx, size, box, xTicks, yTicks, px, py, titles, { paper, ink, font }) {
  // The theme's paper, faint grid lines and a frame in its ink, tick labels and titles outside the plot area.
  ctx.fillStyle = paper;
  ctx.fillRect(0, 0, size.width, size.height);
  ctx.lineWidth = 1;
  ctx.strokeStyle = ink;
  ctx.globalAlpha = 0.1;
  for (const v of xTicks) { ctx.beginPath(); ctx.moveTo(px(v), box.top); ctx.lineTo(px(v), box.top + box.height); ctx.stroke(); }
  for (const v of yTicks) { ctx.beginPath(); ctx.moveTo(box.left, py(v)); ctx.lineTo(box.left + box.width, py(v)); ctx.stroke(); }
  ctx.globalAlpha = 0.35;
  ctx.strokeRect(box.left + 0.5, box.top + 0.5, box.width - 1, box.height - 1);
  ctx.globalAlpha = 1;
  ctx.fillStyle = ink;
  ctx.font = `12px ${font}`;
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const v of xTicks) ctx.fillText(fmt(v, v % 1 === 0 ? 0 : 1), px(v), box.top + box.height + 3);
  ctx.fillText(titles[0], box.left + box.width / 2, box.top + box.height + 18);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of yTicks) ctx.fillText(fmt(v, v % 1 === 0 ? 0 : 1), box.left - 4, py(v));
  ctx.save();
  ctx.translate(10, box.top + box.height / 2); ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center"; ctx.fillText(titles[1], 0, 0);
  ctx.restore();
}

function drawPicture(s) {
  // The part of the picture that does not move with t: test codes, the prior's circles, the path, A and B.
  const d = s.data, height = d.height;
  const ctx = sizeCanvas(s.bg, s.width, height);
  sizeCanvas(s.fg, s.width, height);
  const v = s.view = planeView(s);
  const colours = theme(s), { paper, ink, font } = colours;
  const box = { left: MARGIN.left, top: MARGIN.top, width: v.w, height: v.h };
  drawAxes(ctx, { width: s.width, height }, box, niceTicks(v.x[0], v.x[1], 6), niceTicks(v.y[0], v.y[1], 5), v.px, v.py,
           d.axis_titles, colours);
  ctx.save();
  ctx.beginPath(); ctx.rect(box.left, box.top, box.width, box.height); ctx.clip();
  const classes = d.colours.classes;
  if (s.codes) {
    const { n, codes, labels } = s.codes;
    ctx.globalAlpha = 0.7;
    for (let c = 0; c < classes.length; c++) {
      ctx.fillStyle = classes[c];
      for (let i = 0; i < n; i++) {
        if (labels[i] % classes.length !== c) continue;
        ctx.beginPath(); ctx.arc(v.px(codes[2 * i]), v.py(codes[2 * i + 1]), 2, 0, 2 * Math.PI); ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
  }
  if (d.prior_centre) {  // 1σ dashed, 2σ dotted, as ui/figures/latent.add_prior_circles
    ctx.strokeStyle = ink; ctx.lineWidth = 2.5; ctx.globalAlpha = 0.9;
    [[1, [8, 5]], [2, [2, 4]]].forEach(([r, dash]) => {
      ctx.setLineDash(dash);
      ctx.beginPath(); ctx.arc(v.px(d.prior_centre[0]), v.py(d.prior_centre[1]), r * v.scale, 0, 2 * Math.PI); ctx.stroke();
    });
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
  }
  ctx.strokeStyle = ink; ctx.lineWidth = 3; ctx.lineJoin = "round";
  ctx.beginPath();
  d.fine_points.forEach(([x, y], i) => (i ? ctx.lineTo(v.px(x), v.py(y)) : ctx.moveTo(v.px(x), v.py(y))));
  ctx.stroke();
  const ends = [d.fine_points[0], d.fine_points[d.fine_points.length - 1]];
  ctx.font = `bold 16px ${font}`; ctx.textAlign = "center"; ctx.textBaseline = "bottom";
  ends.forEach(([x, y], i) => {
    ctx.fillStyle = paper; ctx.strokeStyle = ink; ctx.lineWidth = 3;
    ctx.beginPath(); ctx.arc(v.px(x), v.py(y), 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    ctx.fillStyle = ink; ctx.fillText(i ? "B" : "A", v.px(x), v.py(y) - 9);
  });
  const dpr = globalThis.devicePixelRatio || 1;  // for tests: where the "A" is written, in canvas pixels
  s.wrap.dataset.aLabel = `${v.px(ends[0][0]) * dpr},${(v.py(ends[0][1]) - 9) * dpr}`;
  ctx.restore();
}

function star(ctx, x, y, radius, fill, outline) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const r = i % 2 ? radius * 0.45 : radius, a = -Math.PI / 2 + i * Math.PI / 5;
    ctx.lineTo(x + r * Math.cos(a), y + r * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = fill; ctx.fill();
  ctx.strokeStyle = outline; ctx.lineWidth = 1.5; ctx.stroke();
}

function drawStar(s, k) {
  const ctx = s.fg.getContext("2d");
  ctx.clearRect(0, 0, s.width, s.data.height);
  const [x, y] = s.data.points[k];
  star(ctx, s.view.px(x), s.view.py(y), 10, s.data.colours.current, theme(s).ink);
}

function drawNorms(s, k) {
  // ‖z(t)‖ along both paths (the chosen one thick), the current t, and the reference levels, dashed.
  const d = s.data, width = Math.max(MIN_PLANE_PX, Math.round(s.wrap.clientWidth || s.width)), height = NORMS_PX;
  const ctx = sizeCanvas(s.normsCanvas, width, height);
  const colours = theme(s), { ink, font } = colours;
  const legendPx = 22;
  const box = { left: MARGIN.left, top: MARGIN.top + legendPx, width: width - MARGIN.left - MARGIN.right,
                height: height - MARGIN.top - MARGIN.bottom - legendPx };
  const levels = [["test codes' mean ‖z‖", d.code_norm, [2, 3]]];
  if (d.prior_norm !== null) levels.push(["prior's mean ‖z‖", d.prior_norm, [7, 4]]);
  const top = Math.max(...d.lerp_norms, ...d.slerp_norms, ...levels.map((l) => l[1])) * 1.1 || 1;
  const px = (t) => box.left + t * box.width, py = (n) => box.top + box.height * (1 - n / top);
  drawAxes(ctx, { width, height }, box, niceTicks(0, 1, 5), niceTicks(0, top, 4), px, py, ["t", "‖z(t)‖"], colours);
  ctx.save();
  ctx.beginPath(); ctx.rect(box.left, box.top, box.width, box.height); ctx.clip();
  ctx.font = `12px ${font}`;
  levels.forEach(([label, level, dash], i) => {
    ctx.strokeStyle = ink; ctx.globalAlpha = 0.6; ctx.lineWidth = 1.5; ctx.setLineDash(dash);
    ctx.beginPath(); ctx.moveTo(box.left, py(level)); ctx.lineTo(box.left + box.width, py(level)); ctx.stroke();
    ctx.setLineDash([]);
    ctx.globalAlpha = 1;
    // each label on the side of its line away from the other line (as ui/figures/latent.norms_figure does)
    const above = levels.length === 1 || level >= levels[1 - i][1];
    ctx.textBaseline = above ? "bottom" : "top";
    ctx.fillStyle = ink; ctx.textAlign = i ? "right" : "left";
    ctx.fillText(label, i ? box.left + box.width - 4 : box.left + 4, py(level) + (above ? -2 : 2));
  });
  const curves = [["linear", d.lerp_norms, d.colours.lerp], ["spherical", d.slerp_norms, d.colours.slerp]];
  for (const [name, norms, colour] of curves) {
    ctx.strokeStyle = colour; ctx.lineWidth = name === d.method ? 4 : 2;
    ctx.beginPath();
    norms.forEach((n, i) => (i ? ctx.lineTo(px(d.fine_ts[i]), py(n)) : ctx.moveTo(px(d.fine_ts[i]), py(n))));
    ctx.stroke();
  }
  const t = d.ts[k];
  ctx.strokeStyle = d.colours.current; ctx.lineWidth = 1.5;
  ctx.beginPath(); ctx.moveTo(px(t), box.top); ctx.lineTo(px(t), box.top + box.height); ctx.stroke();
  star(ctx, px(t), py(d.norms[k]), 9, d.colours.current, ink);
  ctx.restore();
  // the legend, above the plot area, in the page's text colour
  ctx.font = `12px ${font}`; ctx.textBaseline = "middle"; ctx.textAlign = "left";
  let x = box.left;
  const y = MARGIN.top + legendPx / 2 - 2;
  for (const [name, , colour] of curves) {
    ctx.strokeStyle = colour; ctx.lineWidth = name === d.method ? 4 : 2;
    ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x + 22, y); ctx.stroke();
    ctx.fillStyle = ink; ctx.fillText(`${name} path`, x + 27, y);
    x += 27 + ctx.measureText(`${name} path`).width + 16;
  }
  star(ctx, x + 8, y, 7, d.colours.current, ink);
  ctx.fillStyle = ink; ctx.fillText("z(t)", x + 20, y);
}

function buildLegend(s) {
  // The picture's legend as text: class colours (the classes present) and the path's marks.
  const d = s.data;
  s.legend.replaceChildren();
  const present = new Set(s.codes ? s.codes.labels : []);
  d.class_names.forEach((name, c) => {
    if (!present.has(c)) return;
    const item = document.createElement("span");
    const dot = document.createElement("i");
    dot.style.background = d.colours.classes[c % d.colours.classes.length];
    item.append(dot, document.createTextNode(name));
    s.legend.append(item);
  });
  const marks = document.createElement("span");
  marks.textContent = `— path, ○ A and B, ★ z(t)`;
  s.legend.append(marks);
}

function schedule(s) {
  if (s.pending) return;
  s.pending = true;
  requestAnimationFrame(() => frame(s));
}

function frame(s) {
  s.pending = false;
  if (!s.net || s.k === null || !s.loaded) return;
  const d = s.data, k = Math.min(Math.max(s.k, 0), d.ts.length - 1);
  const t0 = performance.now();
  vlePaint(s.imgCtx, s.image, vleDecode(s.net, d.z[k]), s.net.shape);
  const decodeMs = performance.now() - t0;
  drawStar(s, k);
  drawNorms(s, k);
  const t = fmt(d.ts[k]);
  s.value.textContent = t;
  s.input.setAttribute("aria-valuetext", t);
  s.imgCaption.textContent = `decoded z(t = ${t}), ${d.method}`;
  const strong = document.createElement("strong");
  strong.textContent = fmt(d.norms[k]);
  s.readout.replaceChildren(
    `‖z_A‖ = ${fmt(d.norms[0])}, ‖z_B‖ = ${fmt(d.norms[d.norms.length - 1])}, ‖z(t)‖ = `, strong);
  vleRecord(vleStats(d.id), decodeMs, performance.now());
  s.wrap.dataset.t = String(d.ts[k]);
  s.wrap.dataset.decodes = String(vleStats(d.id).decodes);
}

export default function start(component) {
  const { parentElement, data, setTriggerValue } = component;
  if (!parentElement.__vleWalk) parentElement.__vleWalk = wireWalk(parentElement);
  const s = parentElement.__vleWalk;
  const old = s.loaded;  // the data last set up in full (not a run that found a payload missing)
  s.data = data;
  s.wrap.dataset.vleId = data.id;
  vleRemember(data.blobs);
  const missing = vleMissing([data.decoder, data.codes]);
  if (missing.length) {
    vleAskFor(missing, setTriggerValue, s.status, data.id, () => start(component));
    return;
  }
  s.loaded = data;
  VLE.waiting.delete(data.id);  // a later run had what an earlier one lacked: nothing to resume
  s.status.textContent = "";
  s.net = VLE.nets.get(data.decoder);
  s.codes = VLE.codes.get(data.codes);
  s.wrap.dataset.fingerprint = data.decoder;
  s.wrap.dataset.method = data.method;
  if (!old || old.decoder !== data.decoder) {
    const [, height, width] = s.net.shape;
    s.img.width = width; s.img.height = height;
    s.imgCtx = s.img.getContext("2d");
    s.image = s.imgCtx.createImageData(width, height);
    s.img.style.width = s.img.style.height = `${data.image_px}px`;
    s.root.querySelector(".vle-lw-side").style.width = `${data.image_px}px`;
  }
  if (!old || old.ts.length !== data.ts.length) {
    Object.assign(s.input, { min: "0", max: String(data.ts.length - 1), step: "1" });
    s.k = s.k === null ? data.start : Math.min(s.k, data.ts.length - 1);
    s.input.value = String(s.k);  // an index into data.ts; frame() gives it t as its accessible value
  }
  s.caption.textContent = data.caption;
  fitWidth(s);
  drawPicture(s);  // a new run means a new path, digit or model: the picture's fixed part is redrawn
  buildLegend(s);
  schedule(s);
}
