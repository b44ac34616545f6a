"""Interpolation: walk through the latent space from one digit to another, and turn each latent knob."""

import numpy as np
import streamlit as st

from ui.figures.latent import add_path, trusted_figure
from ui.shell.sidebar import current_selection, require_test_split
from ui.state import derived
from ui.state.browser_decoders import UnsupportedDecoder, browser_decoder
from ui.widgets.latent_pad import latent_sliders
from ui.widgets.shared import digit_picker, model_caption
from vae_core.latent_paths import INTERPOLATIONS, interpolate, slider_ranges
from vae_core.vocabulary import dim_name

selection = current_selection()
st.title("Interpolation")
st.markdown(
    "Encode two digits, then decode the codes on the way from one to the other. Where the decoder has learnt "
    "a smooth space (a VAE) every step is a plausible image and the shape morphs; where it has not, the "
    "middle of the path can fall in a hole. Then take one code and turn its latent dimensions one at a time."
)
data = require_test_split(selection)
entry = selection.entry
model = selection.model
st.caption(model_caption(entry))

col_a, col_b = st.columns(2)
with col_a:
    digit_a = digit_picker(data, "interp_a", default_class=1, title="Start: A")
with col_b:
    digit_b = digit_picker(data, "interp_b", default_class=7, title="End: B")
if digit_a is None or digit_b is None:
    st.stop()
z_a = derived.encode_image(model, digit_a.image)
z_b = derived.encode_image(model, digit_b.image)

st.header("From A to B")
c1, c2 = st.columns([1, 3])
method = c1.radio("Path", INTERPOLATIONS, key="interp_method", format_func=str.capitalize,
                  help="Linear: a straight line. Spherical (slerp): along the great circle, keeping the norm "
                       "where Gaussian samples live; it matters more the larger the latent.")
n_steps = c2.slider("Steps in the strip", 5, 15, 9, key="interp_steps")
path = interpolate(z_a, z_b, np.linspace(0.0, 1.0, n_steps), method)
st.image(derived.decoded_grid_png(model, path, n_cols=n_steps, cell_px=56))
st.caption(f"{n_steps} evenly spaced steps from {digit_a.description} (left) to {digit_b.description} (right).")

left, right = st.columns([1, 2])
with right:
    projection, _ = derived.project_split(model, selection.dataset, method="pca")
    fig = derived.latent_figure(model, selection.dataset, method="pca", show_prior=entry.is_variational)
    add_path(fig, projection.transform(interpolate(z_a, z_b, np.linspace(0.0, 1.0, 41), method)))
    fig["layout"]["height"] = 420
    st.plotly_chart(trusted_figure(fig), key="interp_scatter", config={"displaylogo": False})
    if entry.latent_dim > 2:
        st.caption("The path drawn in the test codes' first two principal components: a projection, so "
                   "straight stays straight but lengths shrink.")


@st.fragment
def walk() -> None:
    # Only the decoded point moves with t: the strip and the scatter above stay as they are.
    t = st.slider("t", 0.0, 1.0, 0.5, 0.05, key="interp_t")
    z_t = interpolate(z_a, z_b, [t], method)[0]
    st.image(derived.decoded_png(model, z_t, size_px=196), caption=f"decoded z(t = {t:.2f}), {method}")
    st.markdown(f"‖z_A‖ = {np.linalg.norm(z_a):.2f}, ‖z_B‖ = {np.linalg.norm(z_b):.2f}, "
                f"‖z(t)‖ = **{np.linalg.norm(z_t):.2f}**")
    if entry.is_variational:
        st.caption(f"Under the prior, ‖z‖ is typically near √{entry.latent_dim} = {np.sqrt(entry.latent_dim):.2f}; "
                   "a straight line between two codes dips below that in the middle, the spherical path does not.")


with left:
    walk()

st.header("Turn the knobs")


@st.fragment
def knobs() -> None:
    start = st.radio("Start from", ["A", "B"], key="interp_knob_start", horizontal=True,
                     format_func=lambda s: f"{s}: {(digit_a if s == 'A' else digit_b).description}")
    start_code = z_a if start == "A" else z_b
    means = derived.encode_split(model, selection.dataset).means
    ranges = slider_ranges(means, entry.is_variational)
    start_values = [float(np.clip(v, lo, hi)) for v, (lo, hi, _) in zip(start_code, ranges)]
    keys = [f"interp_knob_{entry.key}_{d}" for d in range(entry.latent_dim)]
    origin = (entry.key, start, tuple(np.round(start_code, 6)))
    if st.session_state.get("interp_knob_origin") != origin:
        # A new model or a new start digit: the knobs jump to its code.
        st.session_state["interp_knob_origin"] = origin
        for key, value in zip(keys, start_values):
            st.session_state[key] = value

    def reset() -> None:
        for key, value in zip(keys, start_values):
            st.session_state[key] = value

    span = "±3σ of the prior N(0, 1)" if entry.is_variational else "the test codes' mean ±3 standard deviations"
    try:  # an MLP decoder runs in the browser: moving a slider costs no rerun at all
        decoder = browser_decoder(model)
    except UnsupportedDecoder:
        decoder = None
    if decoder is not None:
        st.caption(f"Each slider spans {span}. Your browser decodes as you move them.")
        latent_sliders(f"interp_knobs_{entry.key}", decoder, start=start_values, ranges=[r[:2] for r in ranges],
                       names=[dim_name(d) for d in range(entry.latent_dim)], origin=repr(origin))
        return
    st.button("Reset to the start code", on_click=reset, key="interp_knob_reset")
    st.caption(f"Each slider spans {span}.")
    sliders, image = st.columns([3, 1])
    n_cols = min(4, entry.latent_dim)
    columns = sliders.columns(n_cols)
    code = np.array([
        columns[d % n_cols].slider(dim_name(d), lo, hi, step=round((hi - lo) / 120, 4) or 0.01, key=keys[d])
        for d, (lo, hi, _) in enumerate(ranges)
    ], dtype=np.float32)
    image.image(derived.decoded_png(model, code, size_px=196), caption="decoded knobs")
    moved = np.flatnonzero(np.abs(code - np.array(start_values)) > 1e-6)
    image.caption("Moved: " + (", ".join(dim_name(d) for d in moved) if len(moved) else "nothing yet"))


knobs()
