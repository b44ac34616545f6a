// The browser half of vae_core/lessons/latent_paths.py's interpolate: the same linear and spherical paths, for the
// Interpolation page's strip (decoded_rows.js). Plain script, like mlp_decoder.js: the Python side puts it in front
// of the component's module code, and the browser test evaluates it on its own against Python's paths.

function vleLinspace(n) {
  // numpy.linspace(0, 1, n): n evenly spaced values, both ends included.
  const step = n > 1 ? 1 / (n - 1) : 0;
  return Array.from({ length: n }, (_, k) => (k === n - 1 && n > 1 ? 1 : k * step));
}

function vleNorm(z) {
  let sum = 0;
  for (const v of z) sum += v * v;
  return Math.sqrt(sum);
}

function vleLerp(a, b, t) {
  return a.map((v, j) => (1 - t) * v + t * b[j]);
}

function vleInterpolate(a, b, ts, method) {
  // Codes along the path from a to b at each t: "linear" is (1 - t) a + t b; "spherical" (latent_paths.slerp) turns
  // the unit direction along the great circle (Shoemake's slerp) while the norm goes linearly from |a| to |b|, and
  // falls back to the straight line where a or b is zero or they are (anti)parallel, as the Python does.
  if (method === "linear") return ts.map((t) => vleLerp(a, b, t));
  if (method !== "spherical") throw new Error(`unknown interpolation ${method}`);
  const n0 = vleNorm(a), n1 = vleNorm(b);
  if (n0 < 1e-8 || n1 < 1e-8) return ts.map((t) => vleLerp(a, b, t));
  let cos = 0;
  for (let j = 0; j < a.length; j++) cos += (a[j] / n0) * (b[j] / n1);
  const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
  if (Math.sin(omega) < 1e-6) return ts.map((t) => vleLerp(a, b, t));
  return ts.map((t) => {
    const w0 = Math.sin((1 - t) * omega) / Math.sin(omega), w1 = Math.sin(t * omega) / Math.sin(omega);
    const norm = (1 - t) * n0 + t * n1;
    return a.map((v, j) => (w0 * (v / n0) + w1 * (b[j] / n1)) * norm);
  });
}
