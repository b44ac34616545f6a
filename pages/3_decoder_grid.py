"""Decoder grid: what the decoder draws at every point of the latent plane."""

import streamlit as st

from ui.shell.sidebar import current_selection, require_test_split
from ui.state import derived
from ui.widgets.shared import model_caption
from vae_core.latent_paths import gaussian_quantile_axis, grid_codes, linear_axis, slice_codes
from vae_core.registry import comparison_pair
from vae_core.vocabulary import dim_name

selection = current_selection()
st.title("Decoder grid")
st.markdown(
    "Forget the encoder: feed the decoder a regular grid of codes and look at what it draws. Under a VAE, "
    "every code the prior N(0, I) is likely to produce decodes to a plausible image, and the images morph "
    "smoothly. Under an autoencoder nothing asked the space between its clusters to mean anything, so push "
    "the grid out and look for the **holes**: blurs and non-digits."
)
data = require_test_split(selection)
entry, device = selection.entry, selection.device

if entry.latent_dim == 2:
    ae_entry, vae_entry = comparison_pair(list(selection.entries), entry)
    panels = [(side, e) for side, e in (("Autoencoder", ae_entry), ("VAE", vae_entry)) if e is not None]

    @st.fragment
    def grid_2d() -> None:
        c1, c2, c3 = st.columns([1.2, 1, 1.2])
        grid_kind = c1.radio("Grid", ["quantiles", "linear"], key="grid_kind", format_func={
            "quantiles": "Gaussian quantiles (Kingma & Welling)", "linear": "Linear, with a range"}.get)
        n = c2.slider("Cells per side", 5, 25, 15, key="grid_n")
        half_range = c3.slider("Linear range ±", 1.0, 10.0, 3.0, 0.5, key="grid_range",
                               disabled=grid_kind != "linear",
                               help="The prior holds 99% of its mass within ±3 in each coordinate; go beyond.")
        axis = gaussian_quantile_axis(n) if grid_kind == "quantiles" else linear_axis(n, half_range)
        codes = grid_codes(axis, axis)
        st.caption(f"{dim_name(0)} runs left to right and {dim_name(1)} bottom to top, from {axis[0]:.2f} to {axis[-1]:.2f}"
                   + (": equal prior mass between neighbouring cells." if grid_kind == "quantiles" else "."))
        for column, (side, e) in zip(st.columns(len(panels)), panels):
            with column:
                st.subheader(side)
                st.image(derived.decoded_grid_png(e.ref(device), codes, n_cols=n, cell_px=28))
                means = derived.encode_split(e.ref(device), selection.dataset).means
                lo, hi = means.min(0), means.max(0)
                st.caption(f"{model_caption(e)}. Its test codes span {dim_name(0)} ∈ [{lo[0]:.1f}, {hi[0]:.1f}], "
                           f"{dim_name(1)} ∈ [{lo[1]:.1f}, {hi[1]:.1f}].")

    grid_2d()
else:
    st.caption(f"{model_caption(entry)}. Its latent has {entry.latent_dim} dimensions, so there is no single "
               "picture of it: sample from the prior, or slice through two dimensions.")
    tab_samples, tab_slice = st.tabs(["Samples from N(0, I)", "2-D slice"])

    @st.fragment
    def prior_samples() -> None:
        c1, c2, c3 = st.columns(3)
        n = c1.slider("Grid size", 4, 16, 10, key="grid_samples_n")
        seed = int(c2.number_input("Seed", 0, 10_000, 0, key="grid_seed"))
        temperature = c3.slider("Temperature τ", 0.1, 2.0, 1.0, 0.05, key="grid_temperature",
                                help="z ~ N(0, τ² I). τ < 1 stays near the prior's mode (cleaner, less varied); "
                                     "τ > 1 reaches regions the encoder rarely used.")
        st.image(derived.prior_samples_png(entry.ref(device), n=n * n, seed=seed, temperature=temperature, n_cols=n,
                                           cell_px=28))
        st.caption(f"{n * n} codes z ~ N(0, {temperature:g}² I) with seed {seed}, decoded. The same seed at "
                   "another temperature scales the same codes.")

    @st.fragment
    def latent_slice() -> None:
        dims = list(range(entry.latent_dim))
        c1, c2, c3, c4 = st.columns(4)
        dim_x = c1.selectbox("Horizontal: dimension", dims, index=0, key="grid_dim_x", format_func=dim_name)
        dim_y = c2.selectbox("Vertical: dimension", dims, index=1, key="grid_dim_y", format_func=dim_name)
        n = c3.slider("Cells per side", 5, 21, 11, key="grid_slice_n")
        half_range = c4.slider("Range ±", 1.0, 6.0, 3.0, 0.5, key="grid_slice_range")
        if dim_x == dim_y:
            st.warning("Choose two different dimensions.")
            return
        anchor = st.number_input("Fix the other dimensions at the code of test image # (−1: at 0, the prior's "
                                 "mean)", -1, len(data) - 1, -1, key="grid_anchor")
        means = derived.encode_split(entry.ref(device), selection.dataset).means
        base = means[anchor] if anchor >= 0 else means[0] * 0.0
        axis = linear_axis(n, half_range)
        codes = slice_codes(base, dim_x, dim_y, axis, axis)
        st.image(derived.decoded_grid_png(entry.ref(device), codes, n_cols=n, cell_px=28))
        report = entry.info.metrics
        kl = report.kl_per_dim if report is not None else ()
        if len(kl) == entry.latent_dim:
            st.caption(f"KL per dimension on the test set: {dim_name(dim_x)} {kl[dim_x]:.2f} nats, {dim_name(dim_y)} "
                       f"{kl[dim_y]:.2f} nats. A dimension with KL near 0 is collapsed: the decoder ignores it, "
                       "so the images do not change along it.")

    with tab_samples:
        prior_samples()
    with tab_slice:
        latent_slice()
