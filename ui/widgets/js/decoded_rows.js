// Rows of images decoded in this browser, with one slider for how many each row shows: the β page's prior samples
// (a row per model: the first n of Python's fixed draws, so a larger n only appends samples) and Interpolation's
// strip (n evenly spaced steps from z_A to z_B, by latent_paths.js). Moving the slider repaints on the next
// animation frame with no message to the server; letting it go sends the value once (the trigger "count": an
// event, sent again for a value sent before, e.g. after "Reset this page"), which Python writes to the address so
// that a link restores the view. Needs mlp_decoder.js and latent_paths.js in front of it.

// Cells parted by 1-px lines of this grey (vae_core.serving.images.CELL_LINE), each image pixel a factor x factor
// block, as the server's grid_png draws them.
const CELL_LINE = 128;

function wireRows(root, setTriggerValue) {
  const q = (selector) => root.querySelector(selector);
  const s = {
    wrap: q(".vle-dr"), input: q("input.vle-dr-n"), label: q(".vle-dr-label"), value: q(".vle-dr-value"),
    caption: q(".vle-dr-caption"), rows: q(".vle-dr-rows"), status: q(".vle-dr-status"), data: null,
    loaded: null, net: null, shown: [], pending: false, setTriggerValue,
  };
  s.input.addEventListener("input", () => {
    if (s.data) vleStats(s.data.id).events += 1;
    schedule(s);
  });
  // Let go (or a key press done): the one message to Python, which puts the value in the address.
  s.input.addEventListener("change", () => s.setTriggerValue("count", Number(s.input.value)));
  return s;
}

function rowsReady(s, data, setTriggerValue, resume) {
  // vleReady for several decoders: keep what Python sent, ask once for any payload this page lacks.
  s.data = data;
  s.wrap.dataset.vleId = data.id;
  vleRemember(data.blobs);
  const missing = vleMissing([...new Set(data.rows.map((row) => row.decoder))]);
  if (missing.length) {
    vleAskFor(missing, setTriggerValue, s.status, data.id, resume);
    return false;
  }
  VLE.waiting.delete(data.id);
  s.status.textContent = "";
  return true;
}

function buildRows(s) {
  // One line per row: its label (and a fainter note), its canvas and, where asked, its "Download PNG" link.
  const d = s.data;
  s.rows.replaceChildren();
  s.shown = d.rows.map((row) => {
    const line = document.createElement("div");
    line.className = "vle-dr-row";
    const head = document.createElement("div");
    head.className = "vle-dr-head";
    const name = document.createElement("strong");
    name.textContent = row.label;
    const note = document.createElement("em");
    note.textContent = row.note;
    head.append(name, note);
    const body = document.createElement("div");
    body.className = "vle-dr-body";
    const canvas = document.createElement("canvas");
    canvas.className = "vle-dr-img";
    canvas.setAttribute("aria-label", row.label ? `Decoded images, ${row.label}` : "Decoded images");
    body.append(canvas);
    if (d.downloads) {
      const link = document.createElement("a");
      Object.assign(link, { className: "vle-dr-download", href: "#", textContent: "Download PNG" });
      // The row as shown (its canvas holds the image at its own pixels), named after the view.
      link.addEventListener("click", () => {
        link.href = canvas.toDataURL("image/png");
        link.download = `${row.file_stem}-${d.file_suffix.replaceAll("{n}", s.input.value)}.png`;
      });
      body.append(link);
    }
    if (row.label || row.note) line.append(head);
    line.append(body);
    s.rows.append(line);
    return {
      row, canvas, net: VLE.nets.get(row.decoder),
      codes: row.codes === null ? null : vleFloats(row.codes, "float32"),
      cache: new Map(),  // sample k, or "n:k" for a path's step k of n: its decoded pixels
    };
  });
  s.net = s.shown.length ? s.shown[0].net : null;  // vleSchedule paints only once a decoder is here
}

function rowCodes(shown, n) {
  // The n codes a row decodes: the first n of its draws, or n steps along its path.
  const { row, codes } = shown;
  if (codes !== null) return Array.from({ length: n }, (_, k) => codes.subarray(k * row.dim, (k + 1) * row.dim));
  return vleInterpolate(row.path.a, row.path.b, vleLinspace(n), row.path.method);
}

function rowImages(shown, n) {
  // The row's n decoded images, each decoded once per data: a sample k is the same at every n (the first n
  // draws), a path's step k the same for the same n. A slider move then mostly repaints what it decoded before.
  const images = [];
  const codes = rowCodes(shown, n);
  for (let k = 0; k < n; k++) {
    const key = shown.codes !== null ? k : `${n}:${k}`;
    let pixels = shown.cache.get(key);
    if (!pixels) {
      pixels = Float32Array.from(vleDecode(shown.net, codes[k]));  // vleDecode reuses its buffer: a copy
      shown.cache.set(key, pixels);
    }
    images.push(pixels);
  }
  return images;
}

function warm(s, data) {
  // After a paint, decode the samples the slider has not shown yet, one row per task (input events run between
  // them), so that a larger n only paints. Stops when new data has arrived.
  const pending = s.shown.filter((shown) => shown.codes !== null && shown.cache.size < data.count.max);
  if (!pending.length || s.data !== data) return;
  rowImages(pending[0], data.count.max);
  setTimeout(() => warm(s, data), 0);
}

function paintRow(shown, n) {
  const { canvas, net, row } = shown;
  const [channels, height, width] = net.shape;
  const factor = row.factor, cellW = width * factor, cellH = height * factor;
  const fullW = n * (cellW + 1) - 1;
  canvas.width = fullW; canvas.height = cellH;
  canvas.style.width = `${fullW}px`;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(fullW, cellH);
  const out = image.data, plane = height * width;
  for (let o = 0; o < out.length; o += 4) {
    out[o] = CELL_LINE; out[o + 1] = CELL_LINE; out[o + 2] = CELL_LINE; out[o + 3] = 255;
  }
  rowImages(shown, n).forEach((pixels, cell) => {
    const left = cell * (cellW + 1);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const p = Math.floor(y / factor) * width + Math.floor(x / factor), o = 4 * (y * fullW + left + x);
        const r = pixels[p], g = channels === 3 ? pixels[plane + p] : r, b = channels === 3 ? pixels[2 * plane + p] : r;
        out[o] = Math.round(r * 255); out[o + 1] = Math.round(g * 255); out[o + 2] = Math.round(b * 255);
      }
    }
  });
  ctx.putImageData(image, 0, 0);
}

function paintRows(s) {
  const n = Number(s.input.value);
  s.shown.forEach((shown) => paintRow(shown, n));
  s.value.textContent = String(n);
  s.caption.textContent = s.data.caption.replaceAll("{n}", String(n));
  s.wrap.dataset.count = String(n);
}

function schedule(s) {
  vleSchedule(s, paintRows);
}

export default function start(component) {
  const { parentElement, data, setTriggerValue } = component;
  if (!parentElement.__vleRows) parentElement.__vleRows = wireRows(parentElement, setTriggerValue);
  const s = parentElement.__vleRows;
  s.setTriggerValue = setTriggerValue;
  const old = s.loaded;  // the data last set up in full (not a run that found a payload missing)
  if (!rowsReady(s, data, setTriggerValue, () => start(component))) return;
  s.loaded = data;
  const { label, min, max, value } = data.count;
  s.label.textContent = label;
  s.input.setAttribute("aria-label", label);
  Object.assign(s.input, { min: String(min), max: String(max), step: "1" });
  // Python's value is applied when it changes (a link, "Reset this page", the value this slider sent back):
  // another run with the same value leaves a slider being dragged where it is.
  if (!old || old.count.value !== value) s.input.value = String(value);
  // New rows (another seed, path, digit or model) are built and decoded afresh; a run that changed none of them
  // (the one letting go causes, say) keeps the canvases and what they decoded: no flash, no decoding again.
  const same = old && old.downloads === data.downloads && JSON.stringify(old.rows) === JSON.stringify(data.rows);
  if (!same) buildRows(s);
  s.wrap.dataset.decoders = data.rows.map((row) => row.decoder).join(" ");  // each row's, for benchmarks
  schedule(s);
  setTimeout(() => warm(s, data), 0);
}
