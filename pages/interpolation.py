"""Interpolation: walk through the latent space from one digit to another, and turn each latent knob."""

import numpy as np
import streamlit as st

from ui.figures import latent as figures
from ui.figures.latent import CURRENT_COLOUR_NAME, add_path, norms_figure, trusted_figure
from ui.figures.still import still_figure
from ui.shell.projector import folded_in_projector, projector_on, prose
from ui.shell.sidebar import current_selection, require_test_split
from ui.state import derived
from ui.state.browser_decoders import UnsupportedDecoder, browser_decoder
from ui.widgets import bound
from ui.widgets.chart import plot
from ui.widgets.export import codes_download, figure_config, image_download, still_figure_config
from ui.widgets.image_chooser import measured_image
from ui.widgets.keys import keyed
from ui.widgets.latent_pad import DecodedRow, RowsSlider, WalkColours, decoded_rows, latent_sliders, latent_walk
from ui.widgets.shared import PickedDigit, digit_picker, model_caption, show_as_measured
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, protocol_of
from vae_core.engine.registry import ModelEntry
from vae_core.engine.vocabulary import dim_name
from vae_core.lessons.latent_paths import INTERPOLATIONS, interpolate, prior_mean_norm, slider_ranges
from vae_core.lessons.walk import picture_range, plan_walk
from vae_core.serving.export import export_stem
from vae_core.serving.tsne_job import sample_indices

EXPORT_PAGE = "interpolation"  # the page's part of every download's file name
selection = current_selection()
st.title("Interpolation")
prose(
    "Encode two digits, then decode the codes on the way from one to the other. Where the decoder has learnt "
    "a smooth space (a VAE) every step is a plausible image and the shape morphs; where it has not, the "
    "middle of the path can fall in a hole. Then take one code and turn its latent dimensions one at a time."
)
data = require_test_split(selection)
assert selection.entry is not None, "require_test_split stops the page when no model fits"
entry: ModelEntry = selection.entry
model = selection.model
st.caption(model_caption(entry))

protocol = protocol_of(entry.info.train_config, entry.info.model_config)


def as_measured(digit) -> tuple[np.ndarray, np.ndarray]:
    """(image the model is fed, its code): a test image as in the test set's fixed binarisation (so its code is
    its point in the scatter), an upload binarised with the same seed; unchanged for grey-level models."""
    if digit.index is not None:
        image = derived.measured_split(selection.dataset, protocol)[digit.index, 0].numpy()
        return image, derived.encode_split(model, selection.dataset).means[digit.index]
    image = measured_image(digit.image, protocol, EVAL_BINARIZATION_SEED)  # an upload: the test set's seed
    return image, derived.encode_image(model, image)


@st.fragment(key="interp_digits")
def digits_and_paths() -> None:
    # A new digit A or B changes every code below, so this fragment holds the rest of the page: a class or
    # an upload reruns it, not app.py's sidebar and navigation around it.
    pickers = folded_in_projector("A and B")
    col_a, col_b = pickers.columns(2)
    with col_a:
        digit_a = digit_picker(data, "interp_a", default_class=1, title="Start: A")
    with col_b:
        digit_b = digit_picker(data, "interp_b", default_class=7, title="End: B")
    if digit_a is None or digit_b is None:
        return
    (image_a, z_a), (image_b, z_b) = as_measured(digit_a), as_measured(digit_b)
    binarised = protocol.binarizes_inputs
    show_as_measured(col_a, digit_a.image, image_a, binarised=binarised, caption="A", seed=EVAL_BINARIZATION_SEED)
    show_as_measured(col_b, digit_b.image, image_b, binarised=binarised, caption="B", seed=EVAL_BINARIZATION_SEED)
    if protocol.binarizes_inputs:
        pickers.caption(
            "A and B as the model sees them: it was trained on binarised images, so test images come from the "
            "test set's one fixed binarisation and uploads are binarised with the same seed."
        )
    if not projector_on():  # projector mode: the strip and the path right under the title
        st.header("From A to B")
    path_and_walk(digit_a, digit_b, z_a, z_b)
    st.header("Turn the knobs")
    knobs(digit_a, digit_b, z_a, z_b)


@st.fragment(key="interp_path")
def path_and_walk(digit_a: PickedDigit, digit_b: PickedDigit, z_a: np.ndarray, z_b: np.ndarray) -> None:
    # The path and the number of steps redraw the strip and the walk below, not the digits above.
    try:  # an MLP decoder runs in the browser: the steps slider then repaints the strip with no rerun
        decoder = browser_decoder(model)
    except UnsupportedDecoder:
        decoder = None
    # In the browser, the steps slider is the strip's own: only the path is set up here
    c1, c2 = folded_in_projector("Path" if decoder is not None else "Path and steps").columns([1, 3])
    method = bound.radio(
        "Path",
        INTERPOLATIONS,
        key="interp_method",
        format_func=str.capitalize,
        help="Linear: the straight line (1 − t)·z_A + t·z_B. Spherical, a polar interpolation: the direction "
        "turns along the great circle at constant speed (Shoemake's 1985 slerp of the unit directions) while "
        "the norm changes linearly from ‖z_A‖ to ‖z_B‖. White (2016) applies slerp to the codes themselves; "
        "that path is the same only when ‖z_A‖ = ‖z_B‖.",
        container=c1,
    )
    if decoder is None:
        server_strip(digit_a, digit_b, z_a, z_b, method, c2)
    else:
        n_steps = bound.browser_slider_value(
            STEPS_LABEL, key=STEPS_KEY, min_value=MIN_STEPS, max_value=MAX_STEPS, value=DEFAULT_STEPS
        )
        decoded_rows(
            keyed("interp_strip", entry.key),
            [
                DecodedRow(
                    decoder,
                    label="",
                    note="",
                    file_stem=export_stem(selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-strip"),
                    path=(z_a, z_b, method),
                )
            ],
            slider=RowsSlider(STEPS_LABEL, STEPS_KEY, n_steps, MIN_STEPS, MAX_STEPS, file_suffix="{n}steps"),
            caption=steps_text("{n}", digit_a, digit_b) + " Your browser decodes them as you move the slider.",
            cell_px=STRIP_CELL_PX,
            downloads=not projector_on(),  # the PNG button is a desk's business
        )
    walk(z_a, z_b, method)


def steps_text(n_steps: str, digit_a: PickedDigit, digit_b: PickedDigit) -> str:
    return f"{n_steps} evenly spaced steps from {digit_a.description} (left) to {digit_b.description} (right)."


def server_strip(
    digit_a: PickedDigit, digit_b: PickedDigit, z_a: np.ndarray, z_b: np.ndarray, method: str, container
) -> None:
    """The strip decoded here as a PNG; its steps slider (bound to the URL) reruns the path's fragment."""
    n_steps = bound.slider(
        STEPS_LABEL, key=STEPS_KEY, min_value=MIN_STEPS, max_value=MAX_STEPS, value=DEFAULT_STEPS, container=container
    )
    path = interpolate(z_a, z_b, np.linspace(0.0, 1.0, n_steps), method)
    strip_png = derived.decoded_grid_png(model, path, n_cols=n_steps, cell_px=STRIP_CELL_PX)
    text = steps_text(str(n_steps), digit_a, digit_b)
    if projector_on():  # the strip, its words and the walk on one screen; the PNG button is a desk's business
        st.image(strip_png, caption=text)
    else:
        st.image(strip_png)
        image_download(
            strip_png, selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-strip", key="interp_strip_png"
        )
        st.caption(text)


STEPS_LABEL, STEPS_KEY = "Steps in the strip", "interp_steps"
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 5, 15, 9
STRIP_CELL_PX = 56
PLANE_PX = 420  # the walk's picture of the latent plane
# in projector mode: the strip (with its steps slider) and the walk's picture on the first 720 px screen
PROJECTOR_PLANE_PX = 236
FINE_TS = np.linspace(0.0, 1.0, 41)
T_GRID = np.round(np.linspace(0.0, 1.0, 21), 2)  # the t slider's values: 0, 0.05, …, 1
BACKDROP_POINTS = 2000  # test codes drawn behind the path
WALK_COLOURS = WalkColours(
    classes=figures.CLASS_COLOURS,
    current=figures.CURRENT_COLOUR,
    lerp=figures.LERP_COLOUR,
    slerp=figures.SLERP_COLOUR,
)


@st.fragment
def walk(z_a: np.ndarray, z_b: np.ndarray, method: str) -> None:
    # An MLP decoder runs in the browser: the walk is sent precomputed and t moves with no rerun at all. Other
    # decoders (conv) decode z(t) here, and the t slider reruns this fragment.
    try:
        decoder = browser_decoder(model)
    except UnsupportedDecoder:
        server_walk(z_a, z_b, method)
        return
    browser_walk(decoder, z_a, z_b, method)


def scatter_caption(method: str) -> str:
    return (
        f"The {method} path from A to B over {backdrop}{measured_note}, with z(t) as the {CURRENT_COLOUR_NAME} star"
        + (
            ": drawn in the codes' first two principal components, a projection, so straight stays "
            "straight but lengths shrink."
            if entry.latent_dim > 2
            else "."
        )
    )


def reference_norms() -> tuple[float, float | None]:
    """(the test codes' mean ‖z‖, the prior's mean ‖z‖ or None for an autoencoder): the norms chart's levels."""
    code_norm = float(np.linalg.norm(derived.encode_split(model, selection.dataset).means, axis=1).mean())
    return code_norm, prior_mean_norm(entry.latent_dim) if entry.is_variational else None


def browser_walk(decoder: dict, z_a: np.ndarray, z_b: np.ndarray, method: str) -> None:
    """The walk as one client-side component: the t slider, z(t)'s image, the picture and the norms chart."""
    projection, points = derived.project_split(model, selection.dataset, method="pca")
    encoded = derived.encode_split(model, selection.dataset)
    # The same backdrop as the server-side scatter: derived.latent_figure's seeded subset of the test codes.
    subset = sample_indices(len(points), BACKDROP_POINTS)
    shown = np.arange(len(points)) if subset is None else subset
    plan = plan_walk(z_a, z_b, method, T_GRID, FINE_TS, projection.transform)
    centre = (
        projection.transform(np.zeros((1, entry.latent_dim)))[0]
        if entry.is_variational and projection.shows_prior
        else None
    )
    code_norm, prior_norm = reference_norms()
    latent_walk(
        keyed("interp_walk", entry.key),
        decoder,
        walk=plan,
        start_t=0.5,
        backdrop=points[shown],
        labels=encoded.labels[shown],
        class_names=data.class_names,
        axis_titles=projection.axis_titles,
        axis_range=picture_range(points[shown], plan.fine_points, centre),
        prior_centre=centre,
        code_norm=code_norm,
        prior_norm=prior_norm,
        colours=WALK_COLOURS,
        caption=scatter_caption(method),
        file_stem=export_stem(selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-path"),
        norms_file_stem=export_stem(selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-norms"),
        plane_height_px=PROJECTOR_PLANE_PX if projector_on() else PLANE_PX,
    )
    codes_download(encoded.means, encoded.labels, selection.dataset, entry.info.name, EXPORT_PAGE, key="interp_csv")
    st.caption(norms_text(z_a, z_b, plan.lerp_norms, plan.slerp_norms, code_norm, prior_norm))


def server_walk(z_a: np.ndarray, z_b: np.ndarray, method: str) -> None:
    """The walk drawn on the server: a t slider (bound to the URL), a PNG of z(t) and two plotly charts."""
    # Only z(t) moves with t: the strip above stays as it is; the scatter is redrawn with the new z(t).
    t = bound.slider("t", key="interp_t", min_value=0.0, max_value=1.0, value=0.5, step=0.05)
    z_t = interpolate(z_a, z_b, np.array([t]), method)[0]
    left, right = st.columns([1, 2])
    with left:
        st.image(derived.decoded_png(model, z_t, size_px=196), caption=f"decoded z(t = {t:.2f}), {method}")
        st.markdown(
            f"‖z_A‖ = {np.linalg.norm(z_a):.2f}, ‖z_B‖ = {np.linalg.norm(z_b):.2f}, "
            f"‖z(t)‖ = **{np.linalg.norm(z_t):.2f}**"
        )
    with right:
        projection, _ = derived.project_split(model, selection.dataset, method="pca")
        # A backdrop of at most BACKDROP_POINTS codes: this chart is redrawn at every t, and the browser's
        # redraw grows with its points (about 2 s for 10 000 in headless Chromium on 2 busy cores).
        fig = derived.latent_figure(
            model, selection.dataset, method="pca", show_prior=entry.is_variational, max_points=BACKDROP_POINTS
        )
        fine_path = interpolate(z_a, z_b, FINE_TS, method)
        add_path(fig, projection.transform(fine_path), current_point=projection.transform(z_t[None])[0])
        fig["layout"]["height"] = 420
        plot(
            trusted_figure(fig),
            key="interp_scatter",
            config=figure_config(selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-path"),
        )
        st.caption(scatter_caption(method))
        encoded = derived.encode_split(model, selection.dataset)
        codes_download(encoded.means, encoded.labels, selection.dataset, entry.info.name, EXPORT_PAGE, key="interp_csv")
    norms_chart(z_a, z_b, t, method)


def norms_chart(z_a: np.ndarray, z_b: np.ndarray, t: float, method: str) -> None:
    """‖z(t)‖ along both paths for the shown pair, and what the spherical path keeps: the norms' straight line."""
    lerp_norms = np.linalg.norm(interpolate(z_a, z_b, FINE_TS, "linear"), axis=1)
    slerp_norms = np.linalg.norm(interpolate(z_a, z_b, FINE_TS, "spherical"), axis=1)
    code_norm, prior_norm = reference_norms()
    plot(
        still_figure(norms_figure(FINE_TS, lerp_norms, slerp_norms, t, method, code_norm, prior_norm)),
        key="interp_norms",
        config=still_figure_config(selection.dataset, entry.info.name, EXPORT_PAGE, f"{method}-norms"),
    )
    st.caption(norms_text(z_a, z_b, lerp_norms, slerp_norms, code_norm, prior_norm))


def norms_text(
    z_a: np.ndarray,
    z_b: np.ndarray,
    lerp_norms: np.ndarray,
    slerp_norms: np.ndarray,
    code_norm: float,
    prior_norm: float | None,
) -> str:
    """The norms chart's caption (the norms along FINE_TS): it does not depend on t."""
    n_a, n_b = float(np.linalg.norm(z_a)), float(np.linalg.norm(z_b))
    mid_lerp, mid_slerp = float(lerp_norms[len(FINE_TS) // 2]), float(slerp_norms[len(FINE_TS) // 2])
    cos_ab = float(np.dot(z_a, z_b) / max(n_a * n_b, 1e-12))
    text = (
        "The spherical path drawn here turns the direction by slerp (Shoemake's, on the unit directions) and "
        "changes the norm linearly, so what it keeps is not one norm but a straight line of norms: "
        f"‖z(t)‖ = (1 − t)·‖z_A‖ + t·‖z_B‖, "
        f"here from {n_a:.2f} to {n_b:.2f}, constant only when ‖z_A‖ = ‖z_B‖. The straight line's norm is never "
        "above that line (the triangle inequality)"
    )
    if mid_slerp - mid_lerp > 0.005:
        text += (
            f" and dips below it between the ends: at t = 0.5 it is {mid_lerp:.2f} against the spherical path's "
            f"{mid_slerp:.2f} "
            f"(cos of the angle between z_A and z_B: {cos_ab:.2f})."
        )
    else:
        text += f"; here the two codes point almost the same way (cos {cos_ab:.2f}), so the paths barely differ."
    if prior_norm is not None:
        relation = "below" if code_norm < prior_norm else "above"
        text += (
            f" The test codes (posterior means) have mean norm {code_norm:.2f}, {relation} the mean norm "
            f"{prior_norm:.2f} of a draw from the prior N(0, I) in {entry.latent_dim}-D."
        )
    else:
        text += f" An autoencoder has no prior; its test codes' mean norm is {code_norm:.2f}."
    return text


@st.fragment
def knobs(digit_a: PickedDigit, digit_b: PickedDigit, z_a: np.ndarray, z_b: np.ndarray) -> None:
    start = st.radio(
        "Start from",
        ["A", "B"],
        key="interp_knob_start",
        horizontal=True,
        format_func=lambda s: f"{s}: {(digit_a if s == 'A' else digit_b).description}",
    )
    start_code = z_a if start == "A" else z_b
    means = derived.encode_split(model, selection.dataset).means
    ranges = slider_ranges(means, entry.is_variational)
    start_values = [float(np.clip(v, lo, hi)) for v, (lo, hi, _) in zip(start_code, ranges, strict=False)]
    keys = [keyed("interp_knob", entry.key, d) for d in range(entry.latent_dim)]
    origin = (entry.key, start, tuple(np.round(start_code, 6)))
    if st.session_state.get("interp_knob_origin") != origin:
        # A new model or a new start digit: the knobs jump to its code.
        st.session_state["interp_knob_origin"] = origin
        for key, value in zip(keys, start_values, strict=False):
            st.session_state[key] = value

    def reset() -> None:
        for key, value in zip(keys, start_values, strict=False):
            st.session_state[key] = value

    span = "±3σ of the prior N(0, 1)" if entry.is_variational else "the test codes' mean ±3 standard deviations"
    try:  # an MLP decoder runs in the browser: moving a slider costs no rerun at all
        decoder = browser_decoder(model)
    except UnsupportedDecoder:
        decoder = None
    if decoder is not None:
        st.caption(f"Each slider spans {span}. Your browser decodes as you move them.")
        latent_sliders(
            keyed("interp_knobs", entry.key),
            decoder,
            start=start_values,
            ranges=[r[:2] for r in ranges],
            names=[dim_name(d) for d in range(entry.latent_dim)],
            origin=repr(origin),
        )
        return
    st.button("Reset to the start code", on_click=reset, key="interp_knob_reset")
    st.caption(f"Each slider spans {span}.")
    sliders, image = st.columns([3, 1])
    n_cols = min(4, entry.latent_dim)
    columns = sliders.columns(n_cols)
    code = np.array(
        [
            columns[d % n_cols].slider(dim_name(d), lo, hi, step=round((hi - lo) / 120, 4) or 0.01, key=keys[d])
            for d, (lo, hi, _) in enumerate(ranges)
        ],
        dtype=np.float32,
    )
    image.image(derived.decoded_png(model, code, size_px=196), caption="decoded knobs")
    moved = np.flatnonzero(np.abs(code - np.array(start_values)) > 1e-6)
    image.caption("Moved: " + (", ".join(dim_name(int(d)) for d in moved) if len(moved) else "nothing yet"))


measured_note = " (encoded from the test set's fixed binarisation)" if protocol.binarizes_inputs else ""
backdrop = (
    "the test codes"
    if len(data) <= BACKDROP_POINTS
    else f"{BACKDROP_POINTS:,} of the {len(data):,} test codes (a random subset, always the same)".replace(",", " ")
)
digits_and_paths()
