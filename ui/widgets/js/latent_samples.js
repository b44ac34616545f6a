// A grid of prior (or code-Gaussian) samples decoded in this browser: z = centre + scale * tau * eps for the first
// n * n of Python's draws eps. Moving the grid-size or temperature slider repaints on the next animation frame
// with no message to the server. A new `origin` from Python (another model) returns the sliders to their defaults;
// a new seed arrives as new draws. Needs mlp_decoder.js in front of it.

function wireSamples(root) {
  const q = (selector) => root.querySelector(selector);
  const s = {
    wrap: q(".vle-sg"), nInput: q("input.vle-sg-n"), tInput: q("input.vle-sg-t"), nValue: q(".vle-sg-n-value"),
    tValue: q(".vle-sg-t-value"), img: q("canvas.vle-sg-img"), caption: q(".vle-sg-caption"),
    status: q(".vle-sg-status"), download: q("a.vle-sg-download"), data: null, loaded: null, net: null,
    noise: null, pending: false,
  };
  // The grid as shown: the canvas is painted at its on-screen size, cell lines included.
  s.download.addEventListener("click", () => {
    const n = Number(s.nInput.value);
    s.download.href = s.img.toDataURL("image/png");
    s.download.download = `${s.data.file_stem}-${n}x${n}-tau${Number(s.tInput.value).toFixed(2)}.png`;
  });
  s.nInput.addEventListener("input", () => schedule(s));
  s.tInput.addEventListener("input", () => schedule(s));
  return s;
}

function setDefaults(s) {
  const [nLow, nHigh, nDefault] = s.data.sizes;
  const [tLow, tHigh, tStep, tDefault] = s.data.temperatures;
  Object.assign(s.nInput, { min: String(nLow), max: String(nHigh), step: "1" });
  s.nInput.value = String(nDefault);
  Object.assign(s.tInput, { min: String(tLow), max: String(tHigh), step: String(tStep) });
  s.tInput.value = String(tDefault);
}

// Cells parted by 1-px lines of this grey (vae_core.serving.images.CELL_LINE: seen on ink and background alike),
// each image pixel a factor x factor block (nearest-neighbour, as the server's grids).
const CELL_LINE = 128;

function paintSamples(s) {
  const net = s.net, d = s.data;
  const n = Number(s.nInput.value), tau = Number(s.tInput.value);
  const [channels, height, width] = net.shape;
  const dim = net.latentDim;
  const factor = Math.max(1, Math.floor(d.cell_px / width));
  const cellW = width * factor, cellH = height * factor;
  const fullW = n * (cellW + 1) - 1, fullH = n * (cellH + 1) - 1;
  s.img.width = fullW; s.img.height = fullH;
  s.img.style.width = `${fullW}px`; s.img.style.height = `${fullH}px`;
  const ctx = s.img.getContext("2d");
  const image = ctx.createImageData(fullW, fullH);
  const out = image.data, z = new Float32Array(dim), plane = height * width;
  for (let o = 0; o < out.length; o += 4) {
    out[o] = CELL_LINE; out[o + 1] = CELL_LINE; out[o + 2] = CELL_LINE; out[o + 3] = 255;
  }
  for (let cell = 0; cell < n * n; cell++) {
    for (let j = 0; j < dim; j++) z[j] = d.centre[j] + d.scale[j] * tau * s.noise[cell * dim + j];
    const pixels = vleDecode(net, z);
    const top = Math.floor(cell / n) * (cellH + 1), left = (cell % n) * (cellW + 1);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const p = Math.floor(y / factor) * width + Math.floor(x / factor), o = 4 * ((top + y) * fullW + left + x);
        const r = pixels[p], g = channels === 3 ? pixels[plane + p] : r, b = channels === 3 ? pixels[2 * plane + p] : r;
        out[o] = Math.round(r * 255); out[o + 1] = Math.round(g * 255); out[o + 2] = Math.round(b * 255); out[o + 3] = 255;
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  s.nValue.textContent = String(n);
  s.tValue.textContent = tau.toFixed(2);
  s.caption.textContent = d.caption.replaceAll("{count}", String(n * n)).replaceAll("{tau}", String(Number(tau.toFixed(2))));
  s.wrap.dataset.grid = String(n);
  s.wrap.dataset.temperature = String(tau);
}

function schedule(s) {
  vleSchedule(s, paintSamples);
}

export default function start(component) {
  const { parentElement, data, setTriggerValue } = component;
  if (!parentElement.__vleSamples) parentElement.__vleSamples = wireSamples(parentElement);
  const s = parentElement.__vleSamples;
  const old = s.loaded;  // the data last set up in full (not a run that found the payload missing)
  const net = vleReady(s, data, setTriggerValue, () => start(component));
  if (!net) return;
  s.loaded = data;
  s.net = net;
  s.noise = vleFloats(data.noise, "float32");
  if (!old || old.origin !== data.origin || old.decoder !== data.decoder) setDefaults(s);
  schedule(s);
}
