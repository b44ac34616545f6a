"""The autoencoder family, part 3: the denoising autoencoder's vector field, and denoising digits.

Toy models and the MNIST and digits models are shipped (nothing trains at page open). Every sentence about a
result is computed from the numbers shown.
"""

import math
from collections.abc import Sequence

import streamlit as st

from ui.figures import autoencoders as figs
from ui.shell.projector import projector_slot
from ui.shell.sidebar import current_selection
from ui.state import autoencoder_lesson as state
from ui.widgets import bound
from ui.widgets.autoencoder_parts import (
    DIGIT_PX,
    EXPORT_PAGE,
    images_row,
    index_picker,
    part_footer,
    part_header,
    toy_controls,
)
from ui.widgets.chart import plot, plot_in
from ui.widgets.export import figure_config, image_download
from ui.widgets.image_chooser import choose_image
from vae_core.engine.protocol import DataProtocol
from vae_core.lessons.autoencoders import parts
from vae_core.lessons.autoencoders.lesson_models import GAUSSIAN_LEVELS, MASK_LEVELS, TOY_SPECS
from vae_core.lessons.autoencoders.toy_zoo import DAE_NOISES, dae_spec
from vae_core.serving.images import strip_png

FIELD_STEPS = 21  # the DAE's vector field is drawn on a FIELD_STEPS x FIELD_STEPS grid

selection = current_selection()
dataset, source_note = part_header("denoising_autoencoders", selection)


@st.fragment
def denoising_toy_part() -> None:
    key_slot = projector_slot()  # projector mode: the figure first, its controls and numbers below
    st.subheader("The denoising AE's vector field points back to the data")
    settings = toy_controls("ae_dae", ("curve", "spiral"))
    noise = bound.select_slider(
        "Corruption std σ during training", DAE_NOISES, key="ae_dae_sigma", value=TOY_SPECS["dae"].noise
    )
    spec = dae_spec(noise)
    toy = state.toy_manifold(settings)
    model = state.toy_fit(settings, spec).model
    arrows = parts.denoising_field(model, toy, FIELD_STEPS, noise)
    near, far = arrows.near, arrows.far
    near_fraction, far_fraction = arrows.near_fraction, arrows.far_fraction
    plot_in(
        key_slot or st.container(),
        figs.vector_field_figure(
            arrows.grid,
            arrows.field,
            toy.points,
            steps=FIELD_STEPS,
            title=f"r(x̃) − x̃ on a {FIELD_STEPS} × {FIELD_STEPS} grid, DAE trained "
            f"with σ = {noise:g} (arrows scaled to fit)",
        ),
        key="ae_dae_field",
        config=figure_config("toy", None, EXPORT_PAGE, "dae-field"),
    )
    columns = st.columns(2)
    columns[0].metric(
        f"Arrows pointing back (within 45°), closer than {near:g}",
        "–" if math.isnan(near_fraction) else f"{near_fraction:.0%}",
    )
    columns[1].metric(f"… farther than {far:g}", "–" if math.isnan(far_fraction) else f"{far_fraction:.0%}")
    st.caption(
        f"The DAE (2-D code, as wide as its input, so no bottleneck) was trained to map x + N(0, σ²I) back to x. "
        f"Each arrow goes from a grid point x̃ to its reconstruction: r(x̃) − x̃ estimates σ² times the gradient "
        f"of log p(x̃) (Alain & Bengio 2014). Of the grid points closer than {near:g} (2σ) to the curve, "
        + ("none lie on this grid" if math.isnan(near_fraction) else f"{near_fraction:.0%}")
        + " have arrows within 45° of the way back to the nearest point of the curve; farther than "
        f"{far:g} (4σ), where the DAE saw almost no training inputs, "
        + ("there are no grid points" if math.isnan(far_fraction) else f"{far_fraction:.0%}")
        + f" do. Arrow lengths: median {arrows.median_length_near:.3f} near the curve, "
        f"{arrows.median_length_elsewhere:.3f} elsewhere."
    )


@st.fragment
def denoising_image_part() -> None:
    st.subheader("Denoising digits: the DAE against the plain AE")
    ae = state.lesson_model(dataset, "ae")
    dae = state.lesson_model(dataset, "dae")
    images = state.test_images(dataset)
    columns = st.columns([1, 1, 1])
    kind = bound.radio(
        "Noise",
        ("gaussian", "mask"),
        key="ae_dae_kind",
        # short labels for the URL (?ae_dae_kind=Masking); the captions say what the level measures
        format_func={"gaussian": "Gaussian", "mask": "Masking"}.get,
        horizontal=True,
        captions=["noise std", "fraction of pixels zeroed"],
        container=columns[0],
    )
    levels = GAUSSIAN_LEVELS if kind == "gaussian" else MASK_LEVELS
    level = bound.select_slider(
        "Noise level", levels, key=f"ae_dae_level_{kind}", value=levels[3], container=columns[1]
    )
    with columns[2]:
        own = bound.toggle("Your own image (upload or drawing)", key="ae_dae_own")
        index = 0 if own else index_picker("ae_dae_index", len(images))
    clean = images[index : index + 1]
    seed, source = index, f"test image {index}"
    if own:
        # the shared chooser prepares an upload or a drawing the way the data set's images were made
        channels, height, width = images.shape[1:]
        chosen = choose_image(dataset, (channels, height, width), DataProtocol.GREY_BERNOULLI, "ae_dae_own")
        if chosen is None:
            return
        clean, seed, source = parts.image_batch(chosen.grey, tuple(images.shape[1:])), 0, chosen.description
    denoised = parts.denoise(clean, kind, level, seed, dae, ae)
    outputs, errors = denoised.outputs, denoised.errors
    images_row(
        [clean[0]] + [out[0] for out in outputs.values()],
        ["clean"] + [f"{label}: {errors[label]:.1f}" for label in outputs],
    )
    row_png = strip_png([clean[0]] + [out[0] for out in outputs.values()], DIGIT_PX)
    image_download(row_png, dataset, None, EXPORT_PAGE, f"denoising-{kind}-{level:g}", key="ae_dae_row_png")
    curve = state.denoising_curve(dataset, kind)
    errors_by_model: dict[str, Sequence[float]] = {
        "plain AE": curve.model_errors["plain AE"],
        "DAE": curve.model_errors["DAE"],
        "noisy input": curve.input_errors,
    }
    x_title = "noise std" if kind == "gaussian" else "fraction of pixels zeroed"
    plot(
        figs.denoising_curve_figure(curve.levels, errors_by_model, level, x_title=x_title),
        key="ae_dae_curve",
        config=figure_config(dataset, None, EXPORT_PAGE, "denoising-curve"),
    )
    at = curve.levels.index(level)
    dae_err, ae_err = curve.model_errors["DAE"][at], curve.model_errors["plain AE"][at]
    wins = [
        lv
        for lv, d, a in zip(curve.levels, curve.model_errors["DAE"], curve.model_errors["plain AE"], strict=True)
        if d < a
    ]
    training = f"{dae.config.corruption} noise of level {dae.config.corruption_rate:g}"
    st.caption(
        f"Errors are ‖clean − output‖² per image. At this level, over {curve.n_images} test images, the DAE's "
        f"mean error is {dae_err:.2f} and the plain AE's {ae_err:.2f} (the noisy input itself: "
        f"{curve.input_errors[at]:.2f}). The DAE was trained with {training}; it beats the plain AE at "
        + (f"levels {', '.join(f'{lv:g}' for lv in wins)}" if wins else "none of these levels")
        + f" of {kind} noise. Same noise draw for both models; the digit above ({source}) uses seed {seed}."
    )
    st.caption(
        example_text(
            source, errors["DAE output"], errors["plain AE output"], curve.lowest_share["DAE"][at], curve.n_images
        )
    )


def example_text(source: str, dae_example: float, ae_example: float, dae_share: float, n_images: int) -> str:
    """Whether the digit above is typical: its outcome against the one on most test images at this level."""
    dae_wins_here = dae_example < ae_example
    typical = dae_wins_here == (dae_share >= 0.5)
    return (
        f"On the digit above ({source}) the DAE's error, {dae_example:.1f}, is "
        f"{'lower' if dae_wins_here else 'not lower'} than the plain AE's, {ae_example:.1f}. At this level the DAE "
        f"has the lower error on {dae_share:.0%} of the {n_images} test images, so this digit is "
        + ("a typical example." if typical else "**not a typical example**.")
    )


denoising_toy_part()
denoising_image_part()
part_footer()
