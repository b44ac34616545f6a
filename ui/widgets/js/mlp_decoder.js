// The browser half of vae_core/serving/decoder_export.py: an MLP decoder over typed arrays, plus a page-wide cache.
// Plain script (no import/export): the Python side puts it in front of each component's module code, and the
// browser test evaluates it on its own. Everything shared lives on globalThis.__vle, so a decoder sent once
// serves every pad and slider panel of the session, across reruns and page switches.

const VLE = globalThis.__vle || (globalThis.__vle = {
  have: new Set(),    // fingerprints of every payload this page has unpacked (the payload text is not kept)
  asked: new Set(),   // "<component id> <fingerprint>" each component has asked Python to send again (once each:
                      // no rerun loop; per component, as two components may lack the same decoder)
  waiting: new Map(), // component id -> {missing, resume}: a component that lacks payloads, resumed when one arrives
  nets: new Map(),    // fingerprint -> decoder ready to run (float32 weights)
  codes: new Map(),   // fingerprint -> {n, dim, codes: Float32Array, labels: Uint8Array}
  stats: {},          // component id -> {decodes, events, decodeMs: [], frameTimes: []}, for tests and benchmarks
});

function vleBytes(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

let vleHalfTable = null;  // all 65 536 float16 bit patterns as float32, built on first use

function vleHalfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;  // zero and subnormals
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function vleFloats(b64, dtype) {
  // Little-endian float16 or float32 bytes (numpy's "<f2" / "<f4") -> Float32Array.
  const bytes = vleBytes(b64);
  const view = new DataView(bytes.buffer);
  if (dtype === "float32") {
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }
  if (dtype !== "float16") throw new Error(`unknown dtype ${dtype}`);
  if (vleHalfTable === null) {
    vleHalfTable = new Float32Array(65536);
    for (let b = 0; b < 65536; b++) vleHalfTable[b] = vleHalfToFloat(b);
  }
  const out = new Float32Array(bytes.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = vleHalfTable[view.getUint16(2 * i, true)];
  return out;
}

function vleLoadDecoder(payload) {
  // A payload from DecoderSpec.to_payload -> {latentDim, shape, output, layers, buffers}.
  if (payload.format !== "vle-mlp-decoder/1") throw new Error(`not a decoder payload: ${payload.format}`);
  const layers = payload.layers.map((l) => ({
    nIn: l.in, nOut: l.out, relu: l.relu,
    weight: vleFloats(l.weight, payload.dtype),  // (out, in), row-major like nn.Linear.weight
    bias: vleFloats(l.bias, payload.dtype),
  }));
  return {
    latentDim: payload.latent_dim, shape: payload.output_shape, output: payload.output, layers,
    input: new Float32Array(payload.latent_dim),
    buffers: layers.map((l) => new Float32Array(l.nOut)),  // one scratch vector per layer: no allocation per decode
  };
}

function vleDecode(net, z) {
  // One code (array-like of latentDim numbers) -> the decoder's pixels in [0, 1] (a Float32Array it reuses).
  // Every layer reads a Float32Array (the code is copied into one first), so the loop stays monomorphic.
  const input = net.input;
  for (let i = 0; i < input.length; i++) input[i] = z[i];
  let x = input;
  for (let k = 0; k < net.layers.length; k++) {
    const { nIn, nOut, relu, weight, bias } = net.layers[k];
    const y = net.buffers[k];
    const n4 = nIn - (nIn % 4);
    for (let o = 0; o < nOut; o++) {
      const row = o * nIn;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;  // four partial sums: independent multiply-adds pipeline better
      for (let i = 0; i < n4; i += 4) {
        a0 += weight[row + i] * x[i];
        a1 += weight[row + i + 1] * x[i + 1];
        a2 += weight[row + i + 2] * x[i + 2];
        a3 += weight[row + i + 3] * x[i + 3];
      }
      for (let i = n4; i < nIn; i++) a0 += weight[row + i] * x[i];
      const acc = bias[o] + ((a0 + a1) + (a2 + a3));
      y[o] = relu && acc < 0 ? 0 : acc;
    }
    x = y;
  }
  if (net.output === "sigmoid") {
    for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
  } else {
    for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, x[i]));
  }
  return x;
}

function vleLoadCodes(payload) {
  if (payload.format !== "vle-codes/1") throw new Error(`not a codes payload: ${payload.format}`);
  return { n: payload.n, dim: payload.dim, codes: vleFloats(payload.codes, "float16"), labels: vleBytes(payload.labels) };
}

function vleRemember(blobs) {
  // Keep every payload Python sent this run ({fingerprint: payload}; null where the browser has it already).
  const added = new Set();
  for (const [fp, payload] of Object.entries(blobs || {})) {
    if (!payload || VLE.have.has(fp)) continue;
    if (payload.format === "vle-mlp-decoder/1") VLE.nets.set(fp, vleLoadDecoder(payload));
    else if (payload.format === "vle-codes/1") VLE.codes.set(fp, vleLoadCodes(payload));
    else continue;
    VLE.have.add(fp);
    added.add(fp);
  }
  // Components waiting for one of these start again (after this one): Streamlit may merge two components'
  // reruns into one fragment's, so the payload a component asked for can arrive in another component's data.
  // Progress lets a resumed component ask again for what it still lacks (each arrival once: no loop).
  for (const [id, waiter] of VLE.waiting) {
    if (!waiter.missing.some((fp) => added.has(fp))) continue;
    VLE.waiting.delete(id);
    for (const tag of [...VLE.asked]) if (tag.startsWith(`${id} `)) VLE.asked.delete(tag);
    setTimeout(waiter.resume, 0);
  }
}

function vleMissing(fingerprints) {
  return fingerprints.filter((fp) => fp && !VLE.have.has(fp));
}

function vleAskFor(missing, setTriggerValue, status, id, resume) {
  // Python thinks this page holds these payloads but it does not (e.g. a run cut short): ask once for them.
  // Each component asks for itself: one whose neighbour asked first for the same decoder would otherwise wait
  // for a rerun of its own that never comes (Interpolation's walk and knobs share one).
  const tag = (fp) => `${id} ${fp}`;
  if (resume) VLE.waiting.set(id, { missing, resume });
  if (missing.every((fp) => VLE.asked.has(tag(fp)))) {
    status.textContent = "The decoder did not arrive; reload the page.";
    return;
  }
  missing.forEach((fp) => VLE.asked.add(tag(fp)));
  status.textContent = "Loading the decoder…";
  setTriggerValue("missing", missing);
}

function vleReady(s, data, setTriggerValue, resume) {
  // The start of every component's run: keep the payloads Python sent and return the decoder, or ask Python for
  // a payload the page lacks and return null (resume: runs the component again once the payload is here).
  // s holds the component's wrap and status elements.
  s.data = data;
  s.wrap.dataset.vleId = data.id;
  vleRemember(data.blobs);
  const missing = vleMissing([data.decoder]);
  if (missing.length) {
    vleAskFor(missing, setTriggerValue, s.status, data.id, resume);
    return null;
  }
  VLE.waiting.delete(data.id);  // a later run had what an earlier one lacked: nothing to resume
  s.status.textContent = "";
  s.wrap.dataset.fingerprint = data.decoder;
  return VLE.nets.get(data.decoder);
}

function vleSchedule(s, paint) {
  // paint(s) on the next animation frame, once however many changes arrive before it, and count it in
  // VLE.stats (tests and benchmarks read the paints and their times; the wrap's data-decodes shows the count).
  if (s.pending) return;
  s.pending = true;
  requestAnimationFrame(() => {
    s.pending = false;
    if (!s.net) return;
    const t0 = performance.now();
    paint(s);
    const t1 = performance.now();
    vleRecord(vleStats(s.data.id), t1 - t0, t1);
    s.wrap.dataset.decodes = String(vleStats(s.data.id).decodes);
  });
}

function vleStats(id) {
  return VLE.stats[id] || (VLE.stats[id] = { decodes: 0, events: 0, decodeMs: [], frameTimes: [] });
}

function vleRecord(stats, decodeMs, now) {
  stats.decodes += 1;
  stats.decodeMs.push(decodeMs);
  stats.frameTimes.push(now);
  if (stats.decodeMs.length > 4000) { stats.decodeMs.splice(0, 2000); stats.frameTimes.splice(0, 2000); }
}

function vlePaint(ctx, image, pixels, shape) {
  // pixels (C*H*W in [0, 1]) -> the ImageData of a W x H canvas: light ink on black, like the dataset.
  const [channels, height, width] = shape;
  const data = image.data;
  const plane = height * width;
  for (let p = 0; p < plane; p++) {
    const r = pixels[p], g = channels === 3 ? pixels[plane + p] : r, b = channels === 3 ? pixels[2 * plane + p] : r;
    data[4 * p] = Math.round(r * 255); data[4 * p + 1] = Math.round(g * 255);
    data[4 * p + 2] = Math.round(b * 255); data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

VLE.decodeRate = (fp, n) => {
  // For benchmarks: decodes per second of a tight loop over the cached decoder `fp` (the ceiling).
  const net = VLE.nets.get(fp);
  const z = new Float32Array(net.latentDim);
  const t0 = performance.now();
  for (let k = 0; k < n; k++) { z[0] = Math.sin(k); z[1 % z.length] = Math.cos(k); vleDecode(net, z); }
  return n / ((performance.now() - t0) / 1000);
};

VLE.decodeBatch = (fp, codes) => {
  // For tests: decode a list of codes with the cached decoder `fp`; plain arrays come back.
  const net = VLE.nets.get(fp);
  if (!net) throw new Error(`no decoder ${fp} in this page`);
  return codes.map((z) => Array.from(vleDecode(net, z)));
};
