"""The autoencoder family, part 2: the sparse autoencoder, its KL penalty and a wide layer made sparse.

Toy models and the MNIST and digits models are shipped (nothing trains at page open). Every sentence about a
result is computed from the numbers shown.
"""

import streamlit as st

from ui.figures import autoencoders as figs
from ui.shell.projector import projector_slot
from ui.shell.sidebar import current_selection
from ui.state import autoencoder_lesson as state
from ui.widgets import bound
from ui.widgets.autoencoder_parts import EXPORT_PAGE, images_row, index_picker, part_footer, part_header
from ui.widgets.chart import plot, plot_in
from ui.widgets.export import figure_config
from vae_core.engine.vocabulary import UNIT_ON_ACTIVATION
from vae_core.lessons.autoencoders import parts
from vae_core.lessons.autoencoders.lesson_models import WIDE_SPARSE_RHO

selection = current_selection()
dataset, source_note = part_header("sparse_autoencoders", selection)


@st.fragment
def kl_curve_part() -> None:
    key_slot = projector_slot()  # projector mode: the figure first, its controls below
    st.subheader("Two sparsity penalties")
    st.markdown(
        "With hidden activations hⱼ(x) the **L1 penalty** is λ Σⱼ |hⱼ(x)|, averaged over images. The **KL "
        "penalty** (Ng's notes) takes each unit's average activation over a batch, ρ̂ⱼ = mean over x of hⱼ(x) "
        "with sigmoid units, and charges Σⱼ KL(ρ ‖ ρ̂ⱼ) = Σⱼ [ρ log(ρ/ρ̂ⱼ) + (1−ρ) log((1−ρ)/(1−ρ̂ⱼ))], the KL "
        "divergence between a Bernoulli(ρ) and a Bernoulli(ρ̂ⱼ): zero when the unit is on a fraction ρ of the "
        "time, growing fast as it is on more often."
    )
    rho = bound.slider("Target ρ", key="ae_sparse_rho", min_value=0.01, max_value=0.5, value=WIDE_SPARSE_RHO, step=0.01)
    curve = parts.kl_penalty_curve(rho)
    plot_in(
        key_slot or st.container(),
        figs.kl_penalty_figure(curve.rho_hat, curve.kl, rho),
        key="ae_sparse_kl_chart",
        config=figure_config("", None, EXPORT_PAGE, "kl-penalty"),
    )
    st.caption(
        f"For ρ = {rho:g}: a unit at ρ̂ = ρ costs 0 nats; one that is on half the time (ρ̂ = 0.5) costs "
        f"{curve.at_half:.3f} nats, and the cost has no upper bound as ρ̂ → 1 (or 0)."
    )


@st.fragment
def sparse_image_part() -> None:
    st.subheader("A wide layer, made sparse by the KL penalty")
    dense = state.lesson_model(dataset, "dense")
    sparse = state.lesson_model(dataset, "sparse")
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
        index = index_picker("ae_sparse_index", len(images))
    threshold = bound.slider(
        "'On' above",
        key="ae_sparse_threshold",
        min_value=0.01,
        max_value=0.9,
        value=UNIT_ON_ACTIVATION,
        step=0.01,
        container=columns[1],
    )
    image = images[index : index + 1]
    with columns[2]:
        images_row([image[0]], [f"test image #{index}"])
    layer = {
        "no penalty": parts.units_of_one_image(dense, image, threshold),
        "KL penalty": parts.units_of_one_image(sparse, image, threshold),
    }
    fractions = {label: one.fraction_on for label, one in layer.items()}
    means = {
        label: state.mean_fraction_on(dataset, exhibit, threshold)
        for label, exhibit in (("no penalty", "dense"), ("KL penalty", "sparse"))
    }
    plot(
        figs.activation_bars_figure({label: one.activations for label, one in layer.items()}, threshold),
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
    plot(
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


kl_curve_part()
sparse_image_part()
part_footer()
