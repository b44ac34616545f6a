// Per-dimension latent sliders decoded in this browser: moving a slider repaints the image on the next animation
// frame with no message to the server. "Reset" returns to the start code; a new start code (another digit or
// model, a new `origin` from Python) moves the sliders there. Needs mlp_decoder.js in front of it.

function wireSliders(root) {
  const s = {
    root, wrap: root.querySelector(".vle-ls"), grid: root.querySelector(".vle-ls-grid"),
    img: root.querySelector("canvas.vle-ls-img"), moved: root.querySelector(".vle-ls-moved"),
    status: root.querySelector(".vle-ls-status"), data: null, loaded: null, net: null, inputs: [], z: null,
    pending: false,
  };
  root.querySelector("button.vle-ls-reset").addEventListener("click", () => setCode(s, s.data.start));
  return s;
}

function fmt(v) { return v.toFixed(2).replace("-", "−"); }

function build(s) {
  const d = s.data;
  s.grid.replaceChildren();
  s.grid.style.gridTemplateColumns = `repeat(${Math.min(d.columns, d.ranges.length)}, minmax(0, 1fr))`;
  s.inputs = d.ranges.map(([lo, hi], k) => {
    const label = document.createElement("label");
    label.className = "vle-ls-knob";
    const name = document.createElement("span");
    name.className = "vle-ls-name";
    name.textContent = d.names[k];
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: String(lo), max: String(hi), step: String(d.steps[k]) });
    input.setAttribute("aria-label", d.names[k]);
    const value = document.createElement("span");
    value.className = "vle-ls-value";
    input.addEventListener("input", () => { s.z[k] = Number(input.value); value.textContent = fmt(s.z[k]); schedule(s); });
    label.append(name, input, value);
    s.grid.append(label);
    return { input, value };
  });
  const [, height, width] = s.net.shape;
  s.img.width = width; s.img.height = height;
  s.imgCtx = s.img.getContext("2d");
  s.image = s.imgCtx.createImageData(width, height);
  s.img.style.width = s.img.style.height = `${d.image_px}px`;
}

function setCode(s, code) {
  s.z = Float64Array.from(code);
  s.inputs.forEach(({ input, value }, k) => { input.value = String(s.z[k]); value.textContent = fmt(s.z[k]); });
  schedule(s);
}

function paintKnobs(s) {
  vlePaint(s.imgCtx, s.image, vleDecode(s.net, s.z), s.net.shape);
  const moved = [];
  s.z.forEach((v, k) => { if (Math.abs(v - s.data.start[k]) > 1e-6) moved.push(s.data.names[k]); });
  s.moved.textContent = "Moved: " + (moved.length ? moved.join(", ") : "nothing yet");
}

function schedule(s) {
  vleSchedule(s, paintKnobs);
}

export default function start(component) {
  const { parentElement, data, setTriggerValue } = component;
  if (!parentElement.__vleSliders) parentElement.__vleSliders = wireSliders(parentElement);
  const s = parentElement.__vleSliders;
  const old = s.loaded;  // the data last set up in full (not a run that found the payload missing)
  const net = vleReady(s, data, setTriggerValue, () => start(component));
  if (!net) return;
  s.loaded = data;
  s.net = net;
  const shapeChanged = !old || old.decoder !== data.decoder || JSON.stringify(old.ranges) !== JSON.stringify(data.ranges);
  if (shapeChanged) build(s);
  if (shapeChanged || old.origin !== data.origin) setCode(s, data.start);
}
