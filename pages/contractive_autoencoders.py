"""The autoencoder family, part 4: the contractive autoencoder's Jacobian, on digits and on a toy curve.

Toy models and the MNIST and digits models are shipped (nothing trains at page open). Every sentence about a
result is computed from the numbers shown.
"""

import streamlit as st

from ui.figures import autoencoders as figs
from ui.shell.sidebar import current_selection
from ui.state import autoencoder_lesson as state
from ui.widgets import bound
from ui.widgets.autoencoder_parts import EXPORT_PAGE, images_row, index_picker, part_footer, part_header, toy_controls
from ui.widgets.chart import plot
from ui.widgets.export import figure_config
from vae_core.lessons.autoencoders import parts
from vae_core.lessons.autoencoders.lesson_models import PERTURBATION_NORM, TOY_SPECS
from vae_core.lessons.autoencoders.toy_zoo import CAE_WEIGHTS
from vae_core.lessons.autoencoders.toy_zoo import cae_spec as shipped_cae_spec

selection = current_selection()
dataset, source_note = part_header("contractive_autoencoders", selection)


@st.fragment
def contractive_image_part() -> None:
    st.subheader("‖J_f(x)‖²_F: how fast the code moves with the input")
    st.markdown(
        "The contractive AE adds λ‖J_f(x)‖²_F = λ Σᵢⱼ (∂fᵢ/∂xⱼ)² to its loss (Rifai et al. 2011), computed "
        "exactly here (one backward pass per code dimension). Below, the plain AE and the CAE with the same "
        f"body and a 2-D code ({source_note})."
    )
    ae = state.lesson_model(dataset, "ae")
    cae = state.lesson_model(dataset, "cae")
    images = state.test_images(dataset)
    norms = {"plain AE": state.jacobian_norms(dataset, "ae"), "CAE": state.jacobian_norms(dataset, "cae")}
    columns = st.columns([1, 1, 2])
    with columns[0]:
        index = index_picker("ae_cae_index", len(images))
    epsilon = bound.select_slider(
        "Perturbation ‖δ‖", (0.1, 0.3, 1.0, 3.0), key="ae_cae_epsilon", value=PERTURBATION_NORM, container=columns[1]
    )
    with columns[2]:
        images_row([images[index]], [f"test image #{index}"])
    digit = images[index : index + 1]
    digit_norms = {"plain AE": parts.jacobian_norm_sq(ae, digit), "CAE": parts.jacobian_norm_sq(cae, digit)}
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
    plot(histogram, key="ae_cae_hist", config=figure_config(dataset, None, EXPORT_PAGE, "jacobian-norms"))
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
    weight = bound.select_slider(
        "Contractive weight λ", CAE_WEIGHTS, key="ae_cae_weight", value=cae_default.contractive_weight
    )
    cae_spec = shipped_cae_spec(weight)
    toy = state.toy_manifold(settings)
    plain = state.toy_fit(settings, plain_spec).model
    cae = state.toy_fit(settings, cae_spec).model
    position = bound.slider(
        "Point on the curve (by its coordinate t)",
        key="ae_cae_position",
        min_value=0,
        max_value=len(toy) - 1,
        value=len(toy) // 2,
    )
    slopes = state.curve_slopes(settings, {"plain AE": plain_spec, "CAE": cae_spec})
    response = parts.curve_response({"plain AE": plain, "CAE": cae}, toy, position, slopes)
    responses = response.slopes
    plot(
        figs.response_figure(
            response.offsets,
            response.profiles,
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


contractive_image_part()
contractive_toy_part()
part_footer()
