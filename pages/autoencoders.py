"""The autoencoder family, part 1: the undercomplete autoencoder beside PCA, on a toy manifold and on digits.

Toy models and the MNIST and digits models are shipped (nothing trains at page open). Every sentence about a
result is computed from the numbers shown.
"""

import streamlit as st

from ui.figures import autoencoders as figs
from ui.shell.projector import projector_slot
from ui.shell.sidebar import current_selection
from ui.state import autoencoder_lesson as state
from ui.widgets import bound
from ui.widgets.autoencoder_parts import (
    DIGIT_PX,
    EXPORT_PAGE,
    MANIFOLD_LABELS,
    images_row,
    part_footer,
    part_header,
    relation,
    toy_controls,
)
from ui.widgets.chart import plot_in
from ui.widgets.export import figure_config, image_download
from vae_core.engine.limits import MAX_PCA_COMPONENTS
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders import parts
from vae_core.lessons.autoencoders.toy_data import MANIFOLD_DIMS
from vae_core.lessons.autoencoders.toy_zoo import pca_specs
from vae_core.serving.images import strip_png

N_DIGITS_SHOWN = 6  # eight columns are narrower than a digit on a laptop-wide page

selection = current_selection()
dataset, source_note = part_header("autoencoders", selection)


@st.fragment
def pca_toy_part() -> None:
    key_slot = projector_slot()  # projector mode: the figure first, its controls and numbers below
    st.subheader("A linear autoencoder finds PCA's subspace; a non-linear one follows the curve")
    settings = toy_controls("ae_pca", tuple(MANIFOLD_DIMS))
    code_dim = MANIFOLD_DIMS[settings.manifold] - 1
    linear_spec, nonlinear_spec = pca_specs(settings.manifold)
    toy = state.toy_manifold(settings)
    linear = state.toy_fit(settings, linear_spec).model
    nonlinear = state.toy_fit(settings, nonlinear_spec).model
    result = L.compare_with_pca(toy.points, linear, nonlinear)
    angle = result.largest_angle_deg
    assert result.nonlinear_error is not None  # compare_with_pca was given the non-linear model
    columns = st.columns(4)
    columns[0].metric("Angle, PCA vs linear AE", f"{angle:.3f}°")
    columns[1].metric(f"PCA-{code_dim} error", f"{result.pca_error:.4f}")
    columns[2].metric("Linear AE error", f"{result.linear_error:.4f}")
    columns[3].metric("Non-linear AE error", f"{result.nonlinear_error:.4f}")
    drawn = parts.toy_reconstructions(toy.points, linear, nonlinear, code_dim)
    if drawn.pca_line is not None:
        fig = figs.toy_reconstruction_figure(
            toy.points,
            toy.clean,
            drawn.pca_line,
            drawn.linear,
            drawn.nonlinear,
            title=f"{MANIFOLD_LABELS[settings.manifold]}, code size 1",
        )
    else:
        fig = figs.toy_reconstruction_figure_3d(
            toy.points, drawn.linear, drawn.nonlinear, title=f"{MANIFOLD_LABELS[settings.manifold]}, code size 2"
        )
    plot_in(
        key_slot or st.container(),
        fig,
        key="ae_pca_chart",
        config=figure_config("toy", None, EXPORT_PAGE, "pca-and-ae"),
    )
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
    ae = state.lesson_model(dataset, "ae")
    k = bound.slider("PCA components k", key="ae_pca_k", min_value=1, max_value=MAX_PCA_COMPONENTS, value=2)
    pca_k, pca_2 = state.pca_model(dataset, k), state.pca_model(dataset, 2)
    rows = parts.pca_and_ae_rows(images[:N_DIGITS_SHOWN], pca_k, ae, k)
    for label, row in rows.items():
        st.markdown(f"**{label}**")
        images_row(list(row.images), [f"{e:.1f}" if label != "original" else "" for e in row.errors])
    # the three rows as one picture, in the order shown: the originals, PCA-k, the AE
    rows_png = strip_png(parts.row_images(rows), DIGIT_PX, n_cols=N_DIGITS_SHOWN)
    image_download(rows_png, dataset, None, EXPORT_PAGE, f"originals-pca-{k}-ae-z2", key="ae_pca_rows_png")
    means = parts.pca_and_ae_means(images, pca_k, pca_2, ae)
    mean_k, mean_2, mean_ae = means.pca_k, means.pca_2, means.ae
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
        + f" PCA is fitted to {state.pca_images(dataset).source}."
        + " The zoo has no plain autoencoder with z = 16 (its z = 16 models are β-VAEs); "
        + (
            "move k to 16 to see what 16 linear components do."
            if k != 16
            else "k = 16 shows what 16 linear components do."
        )
    )


pca_toy_part()
pca_image_part()
part_footer()
