"""The autoencoder family: undercomplete AE vs PCA, sparse, denoising and contractive autoencoders.

Toy models train here in seconds (cached by their settings); MNIST models come from the zoo, and offline
the digits models train here. Every sentence about a result is computed from the numbers shown.
"""

import math
from dataclasses import replace

import numpy as np
import streamlit as st
import torch

from ui.figures import autoencoders as figs
from ui.shell.projector import prose
from ui.shell.sidebar import current_selection
from ui.state import autoencoder_lesson as state
from ui.widgets.export import figure_config, image_download
from ui.widgets.image_chooser import choose_image
from vae_core.engine.protocol import DataProtocol
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.lesson_models import (
    ACTIVE_THRESHOLD,
    GAUSSIAN_LEVELS,
    LESSON_DATASETS,
    MASK_LEVELS,
    PERTURBATION_NORM,
    TEST_IMAGES,
    TOY_SPECS,
    ToySettings,
)
from vae_core.lessons.autoencoders.toy_data import MANIFOLD_DIMS, grid_2d, manifold_normal
from vae_core.serving.images import digit_png, strip_png
from vae_core.zoo.specs import WIDE_SPARSE_RHO

SECTIONS = ("1 · Undercomplete AE and PCA", "2 · Sparse AE", "3 · Denoising AE", "4 · Contractive AE")
MANIFOLD_LABELS = {"curve": "S-curve (2-D)", "spiral": "spiral (2-D)", "swiss-roll": "swiss roll (3-D)"}
DIGIT_PX = 84
N_DIGITS_SHOWN = 6  # eight columns are narrower than a digit on a laptop-wide page
FIELD_STEPS = 21  # the DAE's vector field is drawn on a FIELD_STEPS x FIELD_STEPS grid

EXPORT_PAGE = "autoencoders"  # the page's part of every download's file name
selection = current_selection()
st.title("The autoencoder family")
prose(
    "An autoencoder learns an encoder f and a decoder g so that g(f(x)) ≈ x. Left to itself it could copy "
    "its input; what it learns comes from what stops it: a **bottleneck** (undercomplete AE), a **sparsity "
    "penalty** on its hidden units (sparse AE), **noise** it must undo (denoising AE), or a **penalty on "
    "how fast its code changes** with the input (contractive AE). Each part below shows one of them on digits "
    "and, in parts 1, 3 and 4, on a toy manifold small enough to train here in seconds. Errors are squared errors "
    "‖x − x̂‖² per point or per image (pixels in [0, 1]), the one unit PCA and autoencoders share."
)

if selection.dataset in LESSON_DATASETS:
    dataset = selection.dataset
else:
    dataset = "digits"
    st.info(
        f"The lesson's image models exist for MNIST (shipped) and digits (trained here); with "
        f"{selection.dataset} in the sidebar, the image parts use digits."
    )
source_note = (
    "MNIST models from the shipped zoo"
    if dataset == "mnist"
    else "digits models trained here on first use, a few seconds each, then cached"
)
section = st.segmented_control(
    "Part",
    SECTIONS,
    default=SECTIONS[0],
    key="ae_section",
    bind="query-params",
    help="One part at a time: each trains or loads only the models it shows.",
)
section = section or SECTIONS[0]


def toy_controls(key: str, manifolds: tuple[str, ...]) -> ToySettings:
    """Manifold, number of points and noise of the toy data; the defaults are ToySettings()."""
    defaults = ToySettings()
    columns = st.columns(3)
    manifold = columns[0].selectbox(
        "Toy manifold", manifolds, format_func=MANIFOLD_LABELS.get, key=f"{key}_manifold", bind="query-params"
    )
    n_points = columns[1].slider(
        "Points", 100, 1000, defaults.n_points, step=100, key=f"{key}_points", bind="query-params"
    )
    noise = columns[2].slider(
        "Noise std of the data", 0.0, 0.2, defaults.noise, step=0.01, key=f"{key}_noise", bind="query-params"
    )
    return ToySettings(manifold, n_points, noise, defaults.seed)


def images_row(images, captions) -> None:
    for column, image, caption in zip(st.columns(len(images)), images, captions, strict=True):
        column.image(digit_png(image, DIGIT_PX), caption=caption, width=DIGIT_PX)


def index_picker(key: str) -> int:
    return int(
        st.number_input(f"Test image # (0–{TEST_IMAGES - 1})", 0, TEST_IMAGES - 1, 0, key=key, bind="query-params")
    )


def relation(a: float, b: float, tolerance: float = 0.02) -> str:
    """'lower than', 'about the same as' or 'higher than': a compared with b (relative tolerance)."""
    if abs(a - b) <= tolerance * max(abs(b), 1e-12):
        return "about the same as"
    return "lower than" if a < b else "higher than"


# --- 1. Undercomplete AE and PCA ----------------------------------------------------------------------------


@st.fragment
def pca_toy_part() -> None:
    st.subheader("A linear autoencoder finds PCA's subspace; a non-linear one follows the curve")
    settings = toy_controls("ae_pca", tuple(MANIFOLD_DIMS))
    code_dim = MANIFOLD_DIMS[settings.manifold] - 1
    linear_spec = replace(TOY_SPECS["linear"], code_dim=code_dim)
    nonlinear_spec = replace(TOY_SPECS["nonlinear"], code_dim=code_dim)
    toy = state.toy_manifold(settings)
    linear = state.toy_fit(settings, linear_spec, "linear AE").model
    nonlinear = state.toy_fit(settings, nonlinear_spec, "non-linear AE").model
    result = L.compare_with_pca(toy.points, linear, nonlinear)
    angle = result.largest_angle_deg
    columns = st.columns(4)
    columns[0].metric("Angle, PCA vs linear AE", f"{angle:.3f}°")
    columns[1].metric(f"PCA-{code_dim} error", f"{result.pca_error:.4f}")
    columns[2].metric("Linear AE error", f"{result.linear_error:.4f}")
    columns[3].metric("Non-linear AE error", f"{result.nonlinear_error:.4f}")
    if code_dim == 1:
        pca = L.fit_pca(toy.points, 1)
        scores = pca.transform(toy.points.double().numpy())
        line = pca.inverse_transform(np.array([[scores.min()], [scores.max()]]))
        with torch.no_grad():
            linear_recon = linear.reconstruct(toy.points)
        fig = figs.toy_reconstruction_figure(
            toy.points,
            toy.clean,
            line,
            linear_recon,
            L.decoded_curve(nonlinear, toy.points),
            title=f"{MANIFOLD_LABELS[settings.manifold]}, code size 1",
        )
    else:
        with torch.no_grad():
            fig = figs.toy_reconstruction_figure_3d(
                toy.points,
                linear.reconstruct(toy.points),
                nonlinear.reconstruct(toy.points),
                title=f"{MANIFOLD_LABELS[settings.manifold]}, code size 2",
            )
    st.plotly_chart(fig, key="ae_pca_chart", config=figure_config("toy", None, EXPORT_PAGE, "pca-and-ae"))
    same = "the same subspace" if angle < 1.0 else "not quite the same subspace"
    st.caption(
        f"Both models have a {code_dim}-D bottleneck. The linear AE was never told about PCA, yet its "
        f"decoder's directions lie {angle:.3f}° from PCA's principal {'axis' if code_dim == 1 else 'plane'}: "
        f"{same}. Its error, {result.linear_error:.4f} per point, is {relation(result.linear_error, result.pca_error)}"
        f" PCA's {result.pca_error:.4f}, the best any linear map can do. The non-linear AE, with tanh layers "
        f"and the same bottleneck, reaches {result.nonlinear_error:.4f}, "
        f"{result.nonlinear_error / result.pca_error:.1%} of PCA's error"
        + (": its decoder, run over a line of codes, draws the red curve." if code_dim == 1 else ".")
    )


@st.fragment
def pca_image_part() -> None:
    st.subheader(
        f"On {'MNIST' if dataset == 'mnist' else 'digits'}: PCA with k components against the "
        f"autoencoder with a 2-D code"
    )
    images = state.test_images(dataset)
    ae = state.lesson_model(dataset, "ae", "plain AE (z = 2)")
    k = st.slider("PCA components k", 1, 64, 2, key="ae_pca_k", bind="query-params")
    pca_k, pca_2 = state.pca_model(dataset, k), state.pca_model(dataset, 2)
    shown = images[:N_DIGITS_SHOWN]
    with torch.no_grad():
        rows = {"original": shown, f"PCA-{k}": L.pca_reconstruct(pca_k, shown), "AE z = 2": ae.reconstruct(shown)}
    for label, row in rows.items():
        errors = L.squared_error(shown, row)
        st.markdown(f"**{label}**")
        images_row(list(row), [f"{e:.1f}" if label != "original" else "" for e in errors.tolist()])
    # the three rows as one picture, in the order shown: the originals, PCA-k, the AE
    rows_png = strip_png([image for row in rows.values() for image in row], DIGIT_PX, n_cols=N_DIGITS_SHOWN)
    image_download(rows_png, dataset, None, EXPORT_PAGE, f"originals-pca-{k}-ae-z2", key="ae_pca_rows_png")
    mean_k = L.squared_error(images, L.pca_reconstruct(pca_k, images)).mean().item()
    mean_2 = L.squared_error(images, L.pca_reconstruct(pca_2, images)).mean().item()
    mean_ae = L.reconstruction_errors(ae, images).mean().item()
    columns = st.columns(3)
    columns[0].metric("PCA-2 error (test mean)", f"{mean_2:.2f}")
    columns[1].metric("AE z = 2 error (test mean)", f"{mean_ae:.2f}")
    if k != 2:
        columns[2].metric(f"PCA-{k} error (test mean)", f"{mean_k:.2f}")
    better = mean_ae < mean_2
    st.caption(
        f"Numbers under the digits are each one's ‖x − x̂‖²; the metrics are means over the first {len(images)} test "
        f"images ({source_note}). With the same two numbers per image the autoencoder's error, {mean_ae:.2f}, is "
        f"{relation(mean_ae, mean_2)} PCA-2's {mean_2:.2f}"
        + (": its non-linear decoder makes more of two numbers than a linear projection can." if better else ".")
        + (f" PCA-{k} scores {mean_k:.2f}." if k != 2 else "")
        + " The zoo has no plain autoencoder with z = 16 (its z = 16 models are β-VAEs); move k to 16 to see "
        "what 16 linear components do."
    )


# --- 2. Sparse AE -------------------------------------------------------------------------------------------


@st.fragment
def kl_curve_part() -> None:
    st.subheader("Two sparsity penalties")
    st.markdown(
        "With hidden activations hⱼ(x) the **L1 penalty** is λ Σⱼ |hⱼ(x)|, averaged over images. The **KL "
        "penalty** (Ng's notes) takes each unit's average activation over a batch, ρ̂ⱼ = mean over x of hⱼ(x) "
        "with sigmoid units, and charges Σⱼ KL(ρ ‖ ρ̂ⱼ) = Σⱼ [ρ log(ρ/ρ̂ⱼ) + (1−ρ) log((1−ρ)/(1−ρ̂ⱼ))], the KL "
        "divergence between a Bernoulli(ρ) and a Bernoulli(ρ̂ⱼ): zero when the unit is on a fraction ρ of the "
        "time, growing fast as it is on more often."
    )
    rho = st.slider("Target ρ", 0.01, 0.5, WIDE_SPARSE_RHO, step=0.01, key="ae_sparse_rho", bind="query-params")
    rho_hat = torch.linspace(0.001, 0.999, 500, dtype=torch.float64)
    kl_values = L.bernoulli_kl(rho, rho_hat)
    st.plotly_chart(
        figs.kl_penalty_figure(rho_hat, kl_values, rho),
        key="ae_sparse_kl_chart",
        config=figure_config("", None, EXPORT_PAGE, "kl-penalty"),
    )
    half = L.bernoulli_kl(rho, torch.tensor([0.5], dtype=torch.float64)).item()
    st.caption(
        f"For ρ = {rho:g}: a unit at ρ̂ = ρ costs 0 nats; one that is on half the time (ρ̂ = 0.5) costs "
        f"{half:.3f} nats, and the cost has no upper bound as ρ̂ → 1 (or 0)."
    )


@st.fragment
def sparse_image_part() -> None:
    st.subheader("A wide layer, made sparse by the KL penalty")
    dense = state.lesson_model(dataset, "dense", "wide AE without penalty")
    sparse = state.lesson_model(dataset, "sparse", "wide sparse AE")
    images = state.test_images(dataset)
    config = sparse.config
    units = config.hidden_dims[-1]
    st.markdown(
        f"Two models with the same body: {config.input_size} pixels → {units} sigmoid units → a "
        f"{config.latent_dim}-D code → back. The layer is wider than the image needs (and wider than the code "
        f"after it), so the bottleneck does not force it to be sparse. One model was trained with the KL "
        f"penalty (ρ = {config.sparsity_target:g}, weight {config.sparsity_weight:g} on nats per image), the "
        f"other with weight 0 ({source_note})."
    )
    columns = st.columns([1, 1, 2])
    with columns[0]:
        index = index_picker("ae_sparse_index")
    threshold = columns[1].slider(
        "'On' above", 0.01, 0.9, ACTIVE_THRESHOLD, step=0.01, key="ae_sparse_threshold", bind="query-params"
    )
    image = images[index : index + 1]
    with columns[2]:
        images_row([image[0]], [f"test image #{index}"])
    acts = {"no penalty": L.hidden_activations(dense, image)[0], "KL penalty": L.hidden_activations(sparse, image)[0]}
    fractions = {label: L.fraction_active(values.unsqueeze(0), threshold).item() for label, values in acts.items()}
    means = {
        label: state.mean_fraction_active(dataset, role, threshold)
        for label, role in (("no penalty", "dense"), ("KL penalty", "sparse"))
    }
    st.plotly_chart(
        figs.activation_bars_figure({k: v.numpy() for k, v in acts.items()}, threshold),
        key="ae_sparse_bars",
        config=figure_config(dataset, None, EXPORT_PAGE, "activations"),
    )
    st.markdown(f"**Fraction of the {units} units above {threshold:g}**")
    metric_columns = st.columns(4)
    metric_columns[0].metric("This digit, no penalty", f"{fractions['no penalty']:.1%}")
    metric_columns[1].metric("This digit, KL penalty", f"{fractions['KL penalty']:.1%}")
    metric_columns[2].metric("Test mean, no penalty", f"{means['no penalty']:.1%}")
    metric_columns[3].metric("Test mean, KL penalty", f"{means['KL penalty']:.1%}")
    rho_hats = {"no penalty": state.rho_hat(dataset, "dense"), "KL penalty": state.rho_hat(dataset, "sparse")}
    st.plotly_chart(
        figs.histogram_figure(
            rho_hats,
            title=f"Average activation ρ̂ⱼ of each of the {units} units over {len(images)} test images",
            x_title="ρ̂ⱼ",
            marker=config.sparsity_target,
            marker_label=f"ρ = {config.sparsity_target:g}",
        ),
        key="ae_sparse_hist",
        config=figure_config(dataset, None, EXPORT_PAGE, "activation-histogram"),
    )
    sparse_mean, dense_mean = float(rho_hats["KL penalty"].mean()), float(rho_hats["no penalty"].mean())
    ratio = means["no penalty"] / max(means["KL penalty"], 1e-12)
    st.caption(
        f"For this digit {fractions['KL penalty']:.1%} of the penalised model's units are above {threshold:g}, "
        f"against {fractions['no penalty']:.1%} without the penalty; over the test images {means['KL penalty']:.1%} "
        f"against {means['no penalty']:.1%} ({ratio:.1f} times {'fewer' if ratio >= 1 else 'more'}). The "
        f"penalised units' average activations have mean {sparse_mean:.3f} (target ρ = "
        f"{config.sparsity_target:g}); without the penalty, {dense_mean:.3f}."
    )


# --- 3. Denoising AE ----------------------------------------------------------------------------------------


@st.fragment
def denoising_toy_part() -> None:
    st.subheader("The denoising AE's vector field points back to the data")
    settings = toy_controls("ae_dae", ("curve", "spiral"))
    default_spec = TOY_SPECS["dae"]
    noise = st.slider(
        "Corruption std σ during training",
        0.05,
        0.4,
        default_spec.noise,
        step=0.05,
        key="ae_dae_sigma",
        bind="query-params",
    )
    spec = replace(default_spec, noise=noise)
    toy = state.toy_manifold(settings)
    model = state.toy_fit(settings, spec, "denoising AE").model
    grid = grid_2d(toy.points, steps=FIELD_STEPS)
    field = L.reconstruction_field(model, grid)
    alignment = L.field_alignment(field, grid, toy.clean)
    near, far = 2 * noise, 4 * noise
    near_fraction = alignment.fraction_pointing_back(max_distance=near)
    far_fraction = alignment.fraction_pointing_back(min_distance=far)
    st.plotly_chart(
        figs.vector_field_figure(
            grid,
            field,
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
    lengths = field.norm(dim=1)
    near_mask = alignment.distance < near
    st.caption(
        f"The DAE (2-D code, as wide as its input, so no bottleneck) was trained to map x + N(0, σ²I) back to x. "
        f"Each arrow goes from a grid point x̃ to its reconstruction: r(x̃) − x̃ estimates σ² times the gradient "
        f"of log p(x̃) (Alain & Bengio 2014). Of the grid points closer than {near:g} (2σ) to the curve, "
        + ("none lie on this grid" if math.isnan(near_fraction) else f"{near_fraction:.0%}")
        + " have arrows within 45° of the way back to the nearest point of the curve; farther than "
        f"{far:g} (4σ), where the DAE saw almost no training inputs, "
        + ("there are no grid points" if math.isnan(far_fraction) else f"{far_fraction:.0%}")
        + f" do. Arrow lengths: median {lengths[near_mask].median().item() if near_mask.any() else float('nan'):.3f} "
        f"near the curve, {lengths[~near_mask].median().item() if (~near_mask).any() else float('nan'):.3f} "
        f"elsewhere."
    )


@st.fragment
def denoising_image_part() -> None:
    st.subheader("Denoising digits: the DAE against the plain AE")
    ae = state.lesson_model(dataset, "ae", "plain AE")
    dae = state.lesson_model(dataset, "dae", "DAE")
    images = state.test_images(dataset)
    columns = st.columns([1, 1, 1])
    kind = columns[0].radio(
        "Noise",
        ("gaussian", "mask"),
        key="ae_dae_kind",
        bind="query-params",
        horizontal=True,
        # short labels for the URL (?ae_dae_kind=Masking); the captions say what the level measures
        format_func={"gaussian": "Gaussian", "mask": "Masking"}.get,
        captions=["noise std", "fraction of pixels zeroed"],
    )
    levels = GAUSSIAN_LEVELS if kind == "gaussian" else MASK_LEVELS
    level = columns[1].select_slider(
        "Noise level", levels, value=levels[3], key=f"ae_dae_level_{kind}", bind="query-params"
    )
    with columns[2]:
        own = st.toggle("Your own image (upload or drawing)", key="ae_dae_own", bind="query-params")
        index = 0 if own else index_picker("ae_dae_index")
    clean = images[index : index + 1]
    seed, source = index, f"test image {index}"
    if own:
        # the shared chooser prepares an upload or a drawing the way the data set's images were made
        chosen = choose_image(dataset, tuple(images.shape[1:]), DataProtocol.GREY_BERNOULLI, "ae_dae_own")
        if chosen is None:
            return
        clean, seed, source = torch.from_numpy(chosen.grey).reshape(1, *images.shape[1:]), 0, chosen.description
    noisy = L.corrupt(clean, kind, level, seed=seed)
    with torch.no_grad():
        outputs = {"noisy input": noisy, "DAE output": dae.reconstruct(noisy), "plain AE output": ae.reconstruct(noisy)}
    errors = {label: L.squared_error(clean, out).item() for label, out in outputs.items()}
    images_row(
        [clean[0]] + [out[0] for out in outputs.values()],
        ["clean"] + [f"{label}: {errors[label]:.1f}" for label in outputs],
    )
    row_png = strip_png([clean[0]] + [out[0] for out in outputs.values()], DIGIT_PX)
    image_download(row_png, dataset, None, EXPORT_PAGE, f"denoising-{kind}-{level:g}", key="ae_dae_row_png")
    curve = state.denoising_curve(dataset, kind)
    errors_by_model = {
        "plain AE": curve.model_errors["plain AE"],
        "DAE": curve.model_errors["DAE"],
        "noisy input": curve.input_errors,
    }
    x_title = "noise std" if kind == "gaussian" else "fraction of pixels zeroed"
    st.plotly_chart(
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


# --- 4. Contractive AE --------------------------------------------------------------------------------------


@st.fragment
def contractive_image_part() -> None:
    st.subheader("‖J_f(x)‖²_F: how fast the code moves with the input")
    st.markdown(
        "The contractive AE adds λ‖J_f(x)‖²_F = λ Σᵢⱼ (∂fᵢ/∂xⱼ)² to its loss (Rifai et al. 2011), computed "
        "exactly here (one backward pass per code dimension). Below, the plain AE and the CAE with the same "
        f"body and a 2-D code ({source_note})."
    )
    ae = state.lesson_model(dataset, "ae", "plain AE")
    cae = state.lesson_model(dataset, "cae", "CAE")
    images = state.test_images(dataset)
    norms = {"plain AE": state.jacobian_norms(dataset, "ae"), "CAE": state.jacobian_norms(dataset, "cae")}
    columns = st.columns([1, 1, 2])
    with columns[0]:
        index = index_picker("ae_cae_index")
    epsilon = columns[1].select_slider(
        "Perturbation ‖δ‖", (0.1, 0.3, 1.0, 3.0), value=PERTURBATION_NORM, key="ae_cae_epsilon", bind="query-params"
    )
    with columns[2]:
        images_row([images[index]], [f"test image #{index}"])
    digit = images[index : index + 1]
    digit_norms = {
        label: L.jacobian_norms_sq(model.embed, digit).item() for label, model in (("plain AE", ae), ("CAE", cae))
    }
    summaries = {
        "plain AE": state.contraction(dataset, "ae", epsilon),
        "CAE": state.contraction(dataset, "cae", epsilon),
    }
    metric_columns = st.columns(4)
    metric_columns[0].metric("‖J‖² this digit, plain AE", f"{digit_norms['plain AE']:.2f}")
    metric_columns[1].metric("‖J‖² this digit, CAE", f"{digit_norms['CAE']:.2f}")
    metric_columns[2].metric("Test mean ‖J‖², plain AE", f"{summaries['plain AE'].jacobian_sq_mean:.2f}")
    metric_columns[3].metric("Test mean ‖J‖², CAE", f"{summaries['CAE'].jacobian_sq_mean:.2f}")
    histogram = figs.histogram_figure(
        norms, title=f"Squared Frobenius norm ‖J_f(x)‖² over {len(images)} test images", x_title="‖J_f(x)‖²", log_x=True
    )
    st.plotly_chart(histogram, key="ae_cae_hist", config=figure_config(dataset, None, EXPORT_PAGE, "jacobian-norms"))
    table = {
        "": [
            "mean ‖J‖²",
            "median ‖J‖²",
            "code spread √(total variance)",
            "‖J‖ / spread",
            f"code moves under ‖δ‖ = {epsilon:g}",
            "… in code spreads",
        ],
        **{
            label: [
                f"{s.jacobian_sq_mean:.2f}",
                f"{s.jacobian_sq_median:.2f}",
                f"{s.code_spread:.2f}",
                f"{s.relative_jacobian:.3f}",
                f"{s.displacement_mean:.4f}",
                f"{s.relative_displacement:.4f}",
            ]
            for label, s in summaries.items()
        },
    }
    st.dataframe(table, hide_index=True, key="ae_cae_table")
    plain, contractive = summaries["plain AE"], summaries["CAE"]
    ratio = plain.jacobian_sq_mean / max(contractive.jacobian_sq_mean, 1e-12)
    relative_ratio = plain.relative_jacobian / max(contractive.relative_jacobian, 1e-12)
    st.caption(
        f"Over the test images the CAE's mean ‖J‖² is {contractive.jacobian_sq_mean:.2f} against "
        f"{plain.jacobian_sq_mean:.2f} for the plain AE ({ratio:.1f}×). A random perturbation of norm {epsilon:g} "
        f"moves the CAE's code by {contractive.displacement_mean:.4f} on average, the plain AE's by "
        f"{plain.displacement_mean:.4f}. Part of any such gap can be a mere change of scale (a smaller code "
        f"that the decoder scales back up costs nothing), so the table also divides by each code's spread: "
        f"relative to it the CAE's Jacobian is {relative_ratio:.2f}× "
        + ("smaller" if relative_ratio >= 1 else "larger")
        + " than the plain AE's."
    )


@st.fragment
def contractive_toy_part() -> None:
    st.subheader("On the toy curve: flat across the manifold, faithful along it")
    settings = toy_controls("ae_cae", ("curve", "spiral"))
    plain_spec, cae_default = TOY_SPECS["plain-2d"], TOY_SPECS["cae"]
    weight = st.select_slider(
        "Contractive weight λ",
        (0.3, 1.0, 3.0, 10.0),
        value=cae_default.contractive_weight,
        key="ae_cae_weight",
        bind="query-params",
    )
    cae_spec = replace(cae_default, contractive_weight=weight)
    toy = state.toy_manifold(settings)
    plain = state.toy_fit(settings, plain_spec, "plain AE (2-D code)").model
    cae = state.toy_fit(settings, cae_spec, "CAE (2-D code)").model
    normal = manifold_normal(toy)
    responses = {
        "plain AE": L.along_across(plain, toy.clean, toy.tangent, normal),
        "CAE": L.along_across(cae, toy.clean, toy.tangent, normal),
    }
    order = toy.t.argsort()
    position = st.slider(
        "Point on the curve (by its coordinate t)",
        0,
        len(toy) - 1,
        len(toy) // 2,
        key="ae_cae_position",
        bind="query-params",
    )
    i = int(order[min(position, len(toy) - 1)])
    offsets = torch.linspace(-0.3, 0.3, 31)
    across = {
        f"{label}, across": L.response_profile(model, toy.clean[i], normal[i], offsets).numpy()
        for label, model in (("plain AE", plain), ("CAE", cae))
    }
    along = {
        f"{label}, along": L.response_profile(model, toy.clean[i], toy.tangent[i], offsets).numpy()
        for label, model in (("plain AE", plain), ("CAE", cae))
    }
    st.plotly_chart(
        figs.response_figure(
            offsets,
            {**across, **along},
            title="Move the input by s across (normal) or along (tangent) the curve",
            x_title="s",
        ),
        key="ae_cae_response",
        config=figure_config("toy", None, EXPORT_PAGE, "cae-response"),
    )
    columns = st.columns(4)
    columns[0].metric("Plain AE: slope along", f"{responses['plain AE'].along:.2f}")
    columns[1].metric("Plain AE: slope across", f"{responses['plain AE'].across:.2f}")
    columns[2].metric("CAE: slope along", f"{responses['CAE'].along:.2f}")
    columns[3].metric("CAE: slope across", f"{responses['CAE'].across:.2f}")
    p, c = responses["plain AE"], responses["CAE"]
    st.caption(
        f"Both have a 2-D code, as wide as the input, so no bottleneck: the plain AE can (and nearly does) copy "
        f"its input, following moves across the curve with slope {p.across:.2f} (along: {p.along:.2f}). The CAE, "
        f"with λ = {weight:g}, follows moves along the curve with slope {c.along:.2f} but moves across it with "
        f"slope {c.across:.2f}: its reconstruction is "
        + ("flatter across the manifold than along it" if c.across < c.along else "not flatter across than along")
        + ". Slopes are ‖J_r(x) v‖ at the clean points, averaged over the curve (1 = follows fully, 0 = ignores)."
    )


if section == SECTIONS[0]:
    pca_toy_part()
    pca_image_part()
elif section == SECTIONS[1]:
    kl_curve_part()
    sparse_image_part()
elif section == SECTIONS[2]:
    denoising_toy_part()
    denoising_image_part()
else:
    contractive_image_part()
    contractive_toy_part()

st.divider()
st.caption(
    "The numbers with the default settings, toy data and images, are printed by "
    "`python -m benchmarks.ae_lesson_numbers` (add `--dataset digits` for the offline models)."
)
