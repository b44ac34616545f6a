"""Decoder grid: what the decoder draws at every point of the latent plane."""

import numpy as np
import streamlit as st

from ui.figures.grid import OUTLINE_COLOUR_NAME, decoded_grid_figure
from ui.figures.latent import trusted_figure
from ui.figures.still import still_figure
from ui.shell.projector import image_width, prose
from ui.shell.sidebar import current_selection, require_test_split
from ui.state import derived, grid_panels
from ui.state.browser_decoders import UnsupportedDecoder, browser_decoder
from ui.widgets import bound
from ui.widgets.chart import plot
from ui.widgets.export import codes_download, downloads_row, image_download, still_figure_config
from ui.widgets.keys import keyed
from ui.widgets.latent_pad import latent_samples
from ui.widgets.shared import model_caption
from vae_core.engine.protocol import protocol_of
from vae_core.engine.registry import ModelEntry, comparison_pair
from vae_core.engine.vocabulary import dim_name
from vae_core.lessons.latent_paths import (
    linear_axis,
    slice_codes,
)
from vae_core.serving.export import export_stem

selection = current_selection()
st.title("Decoder grid")
prose(
    "Forget the encoder: feed the decoder a regular grid of codes and look at what it draws. A VAE is trained "
    "so that codes drawn from its prior N(0, I) decode to plausible images, and its KL term pulls the codes "
    "towards that prior. "
    "An autoencoder has no prior: its codes sit wherever training put them, at any scale, and nothing asks the "
    "space between them to mean anything. Each panel's grid fits its own model, and the outline shows where "
    "the model's test codes lie: cells outside it are **holes**, where almost no test image is encoded, "
    "so training rarely asked the decoder what to draw there."
)
data = require_test_split(selection)
assert selection.entry is not None, "require_test_split stops the page when no model fits"
entry: ModelEntry = selection.entry
device = selection.device

# Short labels, because a choice is written to the URL as its label (?grid_kind=Linear); the caption under each
# option says what the grid is.
GRID_LABELS = {"quantiles": "Quantiles", "linear": "Linear"}
GRID_CAPTIONS = {
    "quantiles": "Equal-mass Gaussian quantiles (Kingma & Welling)",
    "linear": "Evenly spaced, over the model's own codes",
}
BROWSER_MAX_GRID = 16  # cells per side of the browser's sample grid: 256 decodes per repaint
CODE_MASS = 0.95  # the outline encloses the densest region holding this share of the test codes
EXPORT_PAGE = "decoder-grid"  # the page's part of every download's file name


def grid_panel(e, kind: str, n: int, extent: float) -> tuple[int, np.ndarray, int]:
    """One model's decoded grid with its codes' outline; returns how many cells lie outside the outline, their
    centres' distances from the origin (hole_radii) and how many test codes the outline was drawn from."""
    ref = e.ref(device)
    shown = grid_panels.grid_panel(
        ref, selection.dataset, variational=e.is_variational, kind=kind, n=n, extent=extent, mass=CODE_MASS
    )
    png = shown.png
    plot(
        trusted_figure(shown.figure),
        key=f"grid_figure_{'vae' if e.is_variational else 'ae'}",
        config=still_figure_config(selection.dataset, e.info.name, EXPORT_PAGE, f"{kind}-grid-{n}-figure"),
    )
    panel = "vae" if e.is_variational else "ae"
    encoded = derived.encode_split(ref, selection.dataset)
    with downloads_row():
        image_download(png, selection.dataset, e.info.name, EXPORT_PAGE, f"{kind}-grid-{n}", key=f"grid_png_{panel}")
        codes_download(
            encoded.means, encoded.labels, selection.dataset, e.info.name, EXPORT_PAGE, key=f"grid_csv_{panel}"
        )
    if kind == "quantiles":
        spread = (
            "the prior N(0, 1) in each dimension"
            if e.is_variational
            else f"the Gaussian with its codes' mean and spread ({dim_name(0)}: {shown.code_mean[0]:.1f} ± "
            f"{shown.code_std[0]:.1f}, {dim_name(1)}: {shown.code_mean[1]:.1f} ± {shown.code_std[1]:.1f})"
        )
        where = f"Equal mass of {spread} between neighbouring cells"
    else:
        where = f"Evenly spaced over {extent:g}× the box holding the central 99% of its codes in each dimension" + (
            " and the prior's ±3σ" if e.is_variational else ""
        )
    st.caption(
        f"{model_caption(e)}. {where}. {shown.cells_outside} of {n * n} cells lie outside the "
        f"{OUTLINE_COLOUR_NAME} outline (under the faint {OUTLINE_COLOUR_NAME} veil), which encloses the "
        f"densest region holding {CODE_MASS:.0%} of its {shown.n_codes:,} test codes{measured_note(e)}."
    )
    return shown.cells_outside, shown.hole_radii, shown.n_codes


def holes_story(ae_holes: int, vae_holes: int, vae_radii: np.ndarray, n_cells: int, n_codes: int) -> str:
    """What the two quantile grids' hole counts show, said as the numbers have it (they need not favour the VAE)."""
    counts = (
        f"The cells outside the outline ({ae_holes} of {n_cells} for the autoencoder, {vae_holes} of {n_cells} "
        "for the VAE) are roughly the share of samples that would land in a hole. "
    )
    centre = int((vae_radii <= 1.0).sum())
    tails = int((vae_radii > 2.0).sum())
    where = (
        f"Of the VAE's, {centre} lie within 1σ of its prior's centre and {tails} beyond 2σ, in the prior's tails, "
        "where a sampler seldom goes. "
    )
    if ae_holes > vae_holes:
        return (
            counts
            + where
            + "The autoencoder leaves more of its sampler's mass in holes: nothing asked its codes to fill a "
            "Gaussian, while the VAE's KL term pulled its codes towards the prior it is sampled from."
        )
    return (
        counts
        + where
        + "Here the VAE does not have fewer holes than the autoencoder, so this grid does not show the filled "
        f"prior: the outline is drawn from only {n_codes:,} test codes, too few to tell a hole from a sparse patch. "
        "The shipped MNIST models, with 10,000 test codes, show the difference (choose MNIST in the sidebar)."
    )


def measured_note(e) -> str:
    protocol = protocol_of(e.info.train_config, e.info.model_config)
    if not protocol.binarizes_inputs:
        return ""
    return " (encoded from the test set's fixed binarisation, as the model is measured)"


if entry.latent_dim == 2:
    ae_entry, vae_entry = comparison_pair(list(selection.entries), entry)
    panels = [(side, e) for side, e in (("Autoencoder", ae_entry), ("VAE", vae_entry)) if e is not None]

    @st.fragment
    def grid_2d() -> None:
        c1, c2, c3 = st.columns([1.4, 1, 1])
        grid_kind = bound.radio(
            "Grid",
            list(GRID_LABELS),
            key="grid_kind",
            format_func=GRID_LABELS.get,
            captions=[GRID_CAPTIONS[kind] for kind in GRID_LABELS],
            container=c1,
        )
        n = bound.slider("Cells per side", key="grid_n", min_value=5, max_value=25, value=15, container=c2)
        extent = bound.slider(
            "Linear grid: extent ×",
            key="grid_extent",
            min_value=0.5,
            max_value=3.0,
            value=1.0,
            step=0.25,
            disabled=grid_kind != "linear",
            help="1 = the box holding the central 99% of the model's own test codes in each "
            "dimension (a VAE's also holds the prior's ±3σ); 2 reaches twice as far out.",
            container=c3,
        )
        holes = {}
        with st.spinner("Decoding the grids…"):
            for column, (side, e) in zip(st.columns(len(panels)), panels, strict=False):
                with column:
                    st.subheader(side)
                    holes[side] = grid_panel(e, grid_kind, n, extent)
        if grid_kind == "quantiles" and len(holes) == 2:
            (ae_holes, _, _), (vae_holes, vae_radii, n_codes) = holes["Autoencoder"], holes["VAE"]
            st.markdown(
                "On these grids every cell stands for the same share of the Gaussian a sampler would draw codes "
                "from; the decoder still draws something in a hole, but training rarely showed it a code from "
                "there. " + holes_story(ae_holes, vae_holes, vae_radii, n * n, n_codes)
            )

    grid_2d()
else:
    variational = entry.is_variational
    sampler = (
        "the prior N(0, I)"
        if variational
        else "the Gaussian of its test codes (their mean and standard "
        "deviation in each dimension: an autoencoder has no prior)"
    )
    st.caption(
        f"{model_caption(entry)}. Its latent has {entry.latent_dim} dimensions, so there is no single "
        f"picture of it: sample from {sampler}, or slice through two dimensions."
    )
    tab_samples, tab_slice = st.tabs(
        ["Samples from N(0, I)" if variational else "Samples from its codes' Gaussian", "2-D slice"]
    )
    ref = entry.ref(device)

    def code_spread() -> tuple[np.ndarray, np.ndarray]:
        """(centre, scale) per dimension of what is sampled and sliced: N(0, I), or the AE's own codes."""
        if variational:
            return np.zeros(entry.latent_dim, np.float32), np.ones(entry.latent_dim, np.float32)
        means = derived.encode_split(ref, selection.dataset).means
        return means.mean(0), np.maximum(means.std(0), 1e-3)

    decoder: dict | None
    try:  # an MLP decoder runs in the browser: the grid size and temperature then cost no rerun at all
        decoder = browser_decoder(ref)
    except UnsupportedDecoder:
        decoder = None

    @st.fragment
    def samples_in_browser(decoder: dict) -> None:
        seed = int(bound.number_input("Seed", key="grid_seed", min_value=0, max_value=10_000, value=0))
        noise = derived.prior_codes(BROWSER_MAX_GRID**2, entry.latent_dim, seed)
        centre, scale = code_spread()
        if variational:
            caption = "{count} codes z ~ N(0, {tau}² I) with seed " + f"{seed}, decoded in your browser."
        else:
            caption = (
                "{count} codes z = m + s·ε, ε ~ N(0, {tau}² I) with seed "
                + f"{seed}, m and s the mean and standard deviation of the autoencoder's test codes in each "
                "dimension, decoded in your browser."
            )
        latent_samples(
            keyed("grid_samples", entry.key),
            decoder,
            noise=noise,
            centre=centre,
            scale=scale,
            caption=caption
            + " A larger grid keeps the smaller one's samples; another temperature scales the same codes.",
            origin=entry.key,
            file_stem=export_stem(selection.dataset, entry.info.name, EXPORT_PAGE, f"samples-seed{seed}"),
            sizes=(4, BROWSER_MAX_GRID, 10),
            cell_px=image_width(28),
        )

    @st.fragment
    def prior_samples() -> None:
        c1, c2, c3 = st.columns(3)
        n = c1.slider("Grid size", 4, 16, 10, key="grid_samples_n")
        seed = int(bound.number_input("Seed", key="grid_seed", min_value=0, max_value=10_000, value=0, container=c2))
        temperature = c3.slider(
            "Temperature τ",
            0.1,
            2.0,
            1.0,
            0.05,
            key="grid_temperature",
            help="z ~ N(0, τ² I). τ < 1 stays near the prior's mode (cleaner, less varied); "
            "τ > 1 reaches regions the encoder rarely used.",
        )
        if variational:
            png = derived.prior_samples_png(ref, n=n * n, seed=seed, temperature=temperature, n_cols=n, cell_px=28)
            caption = (
                f"{n * n} codes z ~ N(0, {temperature:g}² I) with seed {seed}, decoded. The same seed at "
                "another temperature scales the same codes."
            )
        else:
            centre, scale = code_spread()
            codes = centre + scale * derived.prior_codes(n * n, entry.latent_dim, seed, temperature)
            png = derived.decoded_grid_png(ref, codes.astype(np.float32), n_cols=n, cell_px=28)
            caption = (
                f"{n * n} codes z = m + s·ε, ε ~ N(0, {temperature:g}² I) with seed {seed}, m and s the mean "
                "and standard deviation of the autoencoder's test codes in each dimension, decoded."
            )
        st.image(png)
        image_download(
            png,
            selection.dataset,
            entry.info.name,
            EXPORT_PAGE,
            f"samples-seed{seed}-tau{temperature:g}",
            key="grid_samples_png",
        )
        st.caption(caption)

    @st.fragment
    def latent_slice() -> None:
        dims = list(range(entry.latent_dim))
        c1, c2, c3, c4 = st.columns(4)
        dim_x = bound.selectbox(
            "Horizontal: dimension", dims, key="grid_dim_x", index=0, format_func=dim_name, container=c1
        )
        dim_y = bound.selectbox(
            "Vertical: dimension", dims, key="grid_dim_y", index=1, format_func=dim_name, container=c2
        )
        n = bound.slider("Cells per side", key="grid_slice_n", min_value=5, max_value=21, value=11, container=c3)
        half_range = bound.slider(
            "Range ± (standard deviations)" if not variational else "Range ±",
            key="grid_slice_range",
            min_value=1.0,
            max_value=6.0,
            value=3.0,
            step=0.5,
            help="In units of the prior's σ = 1."
            if variational
            else "In units of each dimension's standard deviation over the test codes.",
            container=c4,
        )
        if dim_x == dim_y:
            st.warning("Choose two different dimensions.")
            return
        centre, scale = code_spread()
        anchor = bound.number_input(
            "Fix the other dimensions at the code of test image # (−1: at "
            + ("0, the prior's mean)" if variational else "the test codes' mean)"),
            key="grid_anchor",
            min_value=-1,
            max_value=len(data) - 1,
            value=-1,
        )
        means = derived.encode_split(ref, selection.dataset).means
        base = means[anchor] if anchor >= 0 else centre
        steps = linear_axis(n, half_range)
        x_axis, y_axis = centre[dim_x] + scale[dim_x] * steps, centre[dim_y] + scale[dim_y] * steps
        codes = slice_codes(base, dim_x, dim_y, x_axis, y_axis)
        png = derived.decoded_grid_png(ref, codes, n_cols=n, cell_px=28)
        slice_name = f"slice-{dim_name(dim_x)}-{dim_name(dim_y)}"
        plot(
            still_figure(
                decoded_grid_figure(
                    png, x_axis, y_axis, None, axis_titles=(dim_name(dim_x), dim_name(dim_y)), height_px=460
                )
            ),
            key="grid_slice_figure",
            config=still_figure_config(selection.dataset, entry.info.name, EXPORT_PAGE, f"{slice_name}-figure"),
        )
        image_download(png, selection.dataset, entry.info.name, EXPORT_PAGE, slice_name, key="grid_slice_png")
        report = entry.info.metrics
        kl = report.kl_per_dim if report is not None else ()
        if variational and len(kl) == entry.latent_dim:
            st.caption(
                f"KL per dimension on the test set: {dim_name(dim_x)} {kl[dim_x]:.2f} nats, {dim_name(dim_y)} "
                f"{kl[dim_y]:.2f} nats. A dimension with KL near 0 is collapsed: the decoder ignores it, "
                "so the images do not change along it."
            )

    with tab_samples:
        if decoder is not None:
            samples_in_browser(decoder)
        else:
            prior_samples()
    with tab_slice:
        latent_slice()
