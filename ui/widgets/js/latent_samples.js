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
  // The grid as shown (each cell cell_px wide, sharp pixels), made when the link is clicked.
  s.download.addEventListener("click", () => {
    const n = Number(s.nInput.value), cell = s.data.cell_px;
    const [, height, width] = s.net.shape;
    const big = document.createElement("canvas");
    big.width = n * cell; big.height = Math.round(n * cell * height / width);
    const ctx = big.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(s.img, 0, 0, big.width, big.height);
    s.download.href = big.toDataURL("image/png");
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

function paintSamples(s) {
  const net = s.net, d = s.data;
  const n = Number(s.nInput.value), tau = Number(s.tInput.value);
  const [channels, height, width] = net.shape;
  const dim = net.latentDim;
  s.img.width = n * width; s.img.height = n * height;
  s.img.style.width = `${n * d.cell_px}px`; s.img.style.height = `${n * d.cell_px * height / width}px`;
  const ctx = s.img.getContext("2d");
  const image = ctx.createImageData(n * width, n * height);
  const out = image.data, z = new Float32Array(dim), plane = height * width;
  for (let cell = 0; cell < n * n; cell++) {
    for (let j = 0; j < dim; j++) z[j] = d.centre[j] + d.scale[j] * tau * s.noise[cell * dim + j];
    const pixels = vleDecode(net, z);
    const top = Math.floor(cell / n) * height, left = (cell % n) * width;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = y * width + x, o = 4 * ((top + y) * n * width + left + x);
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
