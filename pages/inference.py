"""Inference: the true posterior of a 2-D VAE beside q(z|x), the exact ELBO gap, mean-field, forward vs reverse KL."""

import numpy as np
import streamlit as st

from ui.figures.inference import (
    FORWARD_COLOUR,
    MASS_FRACTIONS,
    REVERSE_COLOUR,
    mean_field_figure,
    mixture_figure_1d,
    mixture_figure_2d,
    posterior_figure,
    variance_ratio_figure,
)
from ui.figures.inference_text import (
    evidence_label,
    fmt,
    gap_agreement_note,
    iw_note,
    mean_field_note,
    mixture_note,
    nats,
    number,
    protocol_note,
    q_star_note,
    shape_note,
)
from ui.shell.projector import projector_slot, prose
from ui.shell.sidebar import current_selection
from ui.state import inference_cache as cache
from ui.state.loaders import dataset_or_none
from ui.widgets import bound
from ui.widgets.chart import plot, plot_in
from ui.widgets.export import figure_config, image_download
from ui.widgets.image_chooser import choose_image
from ui.widgets.progress import progress_bar
from ui.widgets.shared import show_as_measured
from vae_core.engine.protocol import protocol_of
from vae_core.lessons import divergences
from vae_core.lessons.posterior import Q_STAR_MEASURED_SECONDS, posterior_shape
from vae_core.serving.images import READABLE_PX, digit_png, pair_png

EXPORT_PAGE = "inference"  # the page's part of every download's file name
selection = current_selection()
st.title("Inference: the true posterior")
key_slot = projector_slot()  # projector mode: the image and its posterior first, their controls below
prose(
    "The ELBO page says that the gap between −ELBO and −log p(x) is KL(q(z|x) ‖ p(z|x)): how far the encoder's "
    "Gaussian is from the **true posterior**. With a two-dimensional latent that posterior can be computed: "
    "p(z|x) ∝ p(x|z) p(z) on a fine grid, and log p(x) = log ∫ p(x|z) p(z) dz by adding up the grid. Below, the "
    "identity **log p(x) = ELBO + KL(q ‖ p(z|x))** is checked with real numbers; then two toy targets show what "
    "a fully factorised q, and the direction of the KL, cost."
)

# =====================================================================================================
st.header("1 · The true posterior of a 2-D VAE")
image: np.ndarray | None = None  # the image part 1 measures, as the model is measured on it
grey: np.ndarray | None = None  # the same image in grey levels, shown beside a binarised one
description = ""
binarization_seed = cache.EVAL_BINARIZATION_SEED  # of the binarised copy shown, for a binarised model
vaes_2d = [e for e in selection.entries if e.is_variational and e.latent_dim == 2]
test = dataset_or_none(selection.dataset, "test") if vaes_2d else None
if not vaes_2d:
    st.info(
        "This part needs a VAE with a 2-D latent for this data set; train one on the **Train** page "
        "(latent size 2). Parts 2 and 3 below need no model."
    )
elif test is not None:
    by_key = {e.key: e for e in vaes_2d}
    if st.session_state.get("inference_vae") not in by_key:
        sidebar_key = selection.entry.key if selection.entry is not None else None
        st.session_state["inference_vae"] = sidebar_key if sidebar_key in by_key else vaes_2d[0].key
    entry = by_key[
        st.selectbox("VAE with a 2-D latent", list(by_key), key="inference_vae", format_func=lambda k: by_key[k].label)
    ]
    protocol = protocol_of(entry.info.train_config, entry.info.model_config)
    evidence = evidence_label(protocol)
    ref = entry.ref(selection.device)

    source = bound.radio(
        "Image",
        ["index", "largest", "own"],
        key="inference_source",
        # short labels: a choice is written to the URL as its label (?inference_source=Largest+gap)
        format_func={"index": "Test image", "largest": "Largest gap", "own": "Upload or drawing"}.get,
        horizontal=True,
        help="A test image by its index, one of the test images with the largest gap, or your own upload or drawing.",
    )
    if source == "own":
        chosen = choose_image(
            selection.dataset,
            entry.input_shape,
            protocol,
            "inference_own",
            sources=("upload", "draw"),  # a test image is the "Test image" choice above
            purpose="its true posterior",
        )
        if chosen is not None:
            # the chooser shows the grey image and, for a binarised model, the seeded binarised copy measured here
            image = np.ascontiguousarray(chosen.measured, dtype=np.float32)
            grey = chosen.grey
            description = chosen.description.capitalize()
            binarization_seed = chosen.binarization_seed
    elif source == "largest":
        with progress_bar("Ranking test images by their gap") as progress:
            ranking = cache.exact_gap_ranking(ref, selection.dataset, protocol, progress)
        top = list(ranking.indices[:10])
        gaps = dict(zip(top, ranking.gaps[:10], strict=True))
        if st.session_state.get("inference_ranked") not in top:
            st.session_state["inference_ranked"] = top[0]
        class_names, labels = test.class_names, test.labels
        ranked = st.selectbox(
            "Ranked by the exact gap",
            top,
            key="inference_ranked",
            format_func=lambda i: f"test image {i} ({class_names[int(labels[i])]}): gap {gaps[i]:.1f} nats",
        )
        assert ranked is not None  # a selectbox over a non-empty list, opening on its first entry
        index = int(ranked)
        st.caption(
            f"The first {ranking.screened} test images are screened by a quick estimate of the gap on a small "
            f"grid around each q; it misses posterior mass far from q, so the {ranking.candidates} it ranks "
            "highest are then measured with the adaptive grid below, and the list shows the largest of those "
            "exact gaps. An image the quick estimate misjudges badly can still be missing from the shortlist."
        )
    else:
        if not 0 <= st.session_state.get("inference_index", 0) < len(test):
            st.session_state["inference_index"] = 0
        index = int(
            bound.number_input(
                f"Test image (0 – {len(test) - 1})",
                key="inference_index",
                min_value=0,
                max_value=len(test) - 1,
                value=0,
            )
        )
    if source != "own":
        image = cache.measured_test_image(test, protocol, index)
        grey = test.images[index, 0].numpy()
        description = f"Test image {index}, a {test.class_names[int(test.labels[index])]}"

if vaes_2d and test is not None and image is not None:
    fit_q_star = bound.toggle(
        f"Also fit q*, the best diagonal Gaussian for this one image (measured: about {Q_STAR_MEASURED_SECONDS:.1f} s)",
        key="inference_q_star",
        value=True,
    )
    with progress_bar("This image") as progress:
        result = cache.image_inference(ref, image, fit_q_star=fit_q_star, progress=progress)
    report, iw, amortisation = result.report, result.iw, result.amortisation
    shape = posterior_shape(report.grid, report.q)
    st.caption(protocol_note(protocol, selection.dataset, entry.info.model_config.gaussian_sigma))

    picture, chart = (key_slot or st.container()).columns([1, 3])
    show_as_measured(
        picture,
        grey if grey is not None else result.image[0].numpy(),
        result.image[0].numpy(),
        binarised=protocol.binarizes_inputs,
        caption=description,
        seed=binarization_seed,
        side_by_side=False,
    )
    image_download(  # the picture(s) shown above: the grey original beside the binarised copy where there are two
        pair_png(grey, result.image[0].numpy())
        if protocol.binarizes_inputs and grey is not None
        else digit_png(result.image[0].numpy(), READABLE_PX),
        selection.dataset,
        entry.info.name,
        EXPORT_PAGE,
        "measured-image",
        key="inference_image_png",
        container=picture,
    )
    view = bound.radio(
        "View",
        ["q", "grid"],
        key="inference_view",
        format_func={"q": "Zoom", "grid": "Whole grid"}.get,
        help="Zoom on q(z|x) and p(z|x), or show the whole grid p(z|x) is computed on.",
        container=picture,
    )
    q_star = amortisation.q_star if amortisation is not None else None
    plot_in(
        chart,
        posterior_figure(report.grid, report.q, q_star, view=view),
        key="inference_posterior_chart",
        config=figure_config(selection.dataset, entry.info.name, EXPORT_PAGE, "true-posterior"),
    )
    levels_text = ", ".join(f"{m:.0%}" for m in MASS_FRACTIONS[:-1]) + f" and {MASS_FRACTIONS[-1]:.0%}"
    chart.caption(
        f"Grey: p(z|x), stronger where denser; green lines: the regions holding {levels_text} of its mass. Blue: "
        f"the encoder's q(z|x), its ellipses holding the same {levels_text} of its mass (the innermost solid)"
        + ("; red dashed: q*, likewise." if q_star is not None else ".")
    )

    # --- the numbers ---------------------------------------------------------------------------------------
    grid = report.grid
    gap_error = report.gap_error
    cells = st.columns(3)
    cells[0].metric(
        f"{evidence}, quadrature",
        fmt(report.log_px, grid.log_px_error),
        help=f"log Σ p(x|z) p(z) · cell area on a {grid.log_joint.shape[0]}×{grid.log_joint.shape[1]} "
        f"grid; error estimate {grid.log_px_error:.1g} nats (grid halving + mass outside).",
    )
    cells[1].metric(
        "ELBO of q(z|x)",
        fmt(report.elbo.elbo, report.elbo.error),
        help=f"{report.elbo.method}; {report.elbo.n_nodes}² nodes, error estimate "
        f"{report.elbo.error:.1g} nats (halving the nodes).",
    )
    cells[2].metric(
        f"IW, K={iw.k}, mean of {len(iw.seeds)} seeds",
        fmt(iw.mean, iw.mean_error),
        delta=f"± {iw.spread:.2g} nats per seed",
        delta_color="off",
        delta_arrow="off",
        help=f"IW_K with q(z|x) as proposal (Burda et al. 2015), averaged over seeds "
        f"{', '.join(map(str, iw.seeds))}: one seed's estimate has a standard deviation of {iw.spread:.2g} nats, "
        f"their mean a standard error of {iw.mean_error:.2g}. One draw can lie in a tail, so no single seed is "
        "quoted.",
    )
    cells = st.columns(3)
    cells[0].metric(
        f"Gap: {evidence} − ELBO",
        fmt(report.gap_from_bounds, gap_error),
        help="The difference of the first two numbers above.",
    )
    cells[1].metric(
        "KL(q ‖ p(z|x)) on the grid",
        fmt(report.kl_on_grid, gap_error),
        help="Σ q (log q − log p(z|x)) · cell area, summed directly on the grid.",
    )
    cells[2].metric(
        "Their difference",
        f"{report.gap_from_bounds - report.kl_on_grid:.1g}".replace("-", "−"),
        help=f"Within the quadratures' error estimates when below {gap_error:.1g} nats.",
    )
    st.markdown(gap_agreement_note(report, evidence))
    st.markdown(iw_note(report, iw, evidence))
    st.markdown(shape_note(shape, report.q))
    if amortisation is not None:
        cells = st.columns(3)
        cells[0].metric(
            "ELBO of q*",
            fmt(amortisation.elbo_star.elbo, amortisation.elbo_star.error),
            help="q* maximises this image's ELBO over diagonal Gaussians: L-BFGS (at most "
            f"{amortisation.steps} iterations) on the ELBO computed from the grid's log p(x, z), started from the "
            "encoder's q and from p(z|x)'s moments; the ELBO shown is by Gauss–Hermite quadrature, the better start "
            f"kept. It took {amortisation.seconds:.2f} s for this image.",
        )
        cells[1].metric(
            "Approximation gap",
            fmt(amortisation.approximation_gap, gap_error),
            help=f"{evidence} − ELBO(q*): what no diagonal Gaussian can close for this image.",
        )
        cells[2].metric(
            "Amortisation gap",
            fmt(amortisation.amortisation_gap, gap_error),
            help="ELBO(q*) − ELBO(q(z|x)): what one encoder shared by all images loses on this one.",
        )
        st.markdown(q_star_note(amortisation))
    with st.expander("How each number is computed"):
        st.markdown(
            f"- **log p(x)**: the grid is centred on q's mean; a coarse {33}×{33} scan finds where the posterior's "
            "mass is, the box grows until the mass extrapolated beyond its edges is below 10⁻⁶, and the grid is "
            "refined while halving it moves log p(x) by more than 0.005 nats. Error: the halving difference plus "
            "the estimated mass outside.\n"
            f"- **ELBO**: {report.elbo.method}.\n"
            f"- **IW-K**: the importance-weighted bound with K = {iw.k} draws from q(z|x); random, and a lower "
            "bound on log p(x) only in expectation.\n"
            "- **KL(q ‖ p(z|x))**: q's density against the normalised grid posterior, cell by cell.\n"
            "- Numbers are shown to the decimals their error estimate (or, for IW, their spread over seeds) "
            "supports, at most three."
        )

# =====================================================================================================
st.header("2 · Mean-field: a factorised q for a correlated posterior")
prose(
    "Mean-field variational inference picks q(z) = q₁(z₁) q₂(z₂), as the VAE's diagonal Gaussian does. For a "
    "correlated Gaussian target p the best such q has a closed form in each direction of the KL."
)


@st.fragment
def mean_field_part() -> None:
    rho = float(
        bound.slider(
            "Correlation ρ of the target", key="inference_rho", min_value=-0.95, max_value=0.95, value=0.8, step=0.05
        )
    )
    comparison = cache.mean_field(rho)
    rhos, ratios = cache.variance_curve()
    left, right = st.columns(2)
    plot_in(
        left,
        mean_field_figure(comparison),
        key="inference_mean_field_chart",
        config=figure_config("", None, EXPORT_PAGE, "mean-field"),
    )
    plot_in(
        right,
        variance_ratio_figure(rhos, ratios, rho, float(comparison.variance_ratio[0])),
        key="inference_variance_chart",
        config=figure_config("", None, EXPORT_PAGE, "variance-ratio"),
    )
    cells = st.columns(3)
    cells[0].metric("Reverse-KL variance ÷ true variance", f"{comparison.variance_ratio[0]:.3f}")
    cells[1].metric("KL(q ‖ p) of the reverse fit, nats", nats(comparison.reverse.kl_reverse))
    cells[2].metric("KL(p ‖ q) of the forward fit, nats", nats(comparison.forward.kl_forward))
    st.markdown(mean_field_note(comparison))


mean_field_part()

# =====================================================================================================
st.header("3 · Forward vs reverse KL on a two-mode target")
prose(
    "- **Reverse KL(q ‖ p) = E_q[log q − log p]**: the expectation is under *q*. Its penalty explodes where q puts "
    "mass and p has almost none (log p → −∞), so q stays inside p's mass: **zero-forcing, mode-seeking**. It can "
    "sit on one mode and ignore the other at little cost.\n"
    "- **Forward KL(p ‖ q) = E_p[log p − log q]**: the expectation is under *p*. Its penalty explodes where p has "
    "mass and q has almost none, so q must cover all of p: **zero-avoiding, mass-covering**. For a Gaussian q its "
    "minimum is moment matching, which can put q's peak where p has little mass.\n"
    "- **Why the ELBO uses the reverse direction**: log p(x) − ELBO(q) = KL(q(z|x) ‖ p(z|x)), and its expectation "
    "is under q, which we can sample. The forward direction would need samples from p(z|x), the very posterior "
    "we cannot compute — except here, in two dimensions, by brute force."
)


@st.fragment
def kl_direction_part() -> None:
    controls = st.columns(4)
    dim = int(
        bound.radio(
            "Target",
            [1, 2],
            key="inference_mixture_dim",
            format_func=lambda d: f"{d}-D",
            horizontal=True,
            container=controls[0],
        )
    )
    separation = float(
        bound.slider(
            "Separation of the modes (in component σ)",
            key="inference_separation",
            min_value=0.0,
            max_value=10.0,
            value=6.0,
            step=0.5,
            container=controls[1],
        )
    )
    weight = float(
        bound.slider(
            "Weight of mode A (left)",
            key="inference_weight",
            min_value=0.1,
            max_value=0.9,
            value=0.7,
            step=0.05,
            container=controls[2],
        )
    )
    start = bound.radio(
        "Reverse-KL fit starts near",
        ["A", "B"],
        key="inference_start",
        format_func=lambda m: f"mode {m}",
        horizontal=True,
        container=controls[3],
    )
    with st.spinner("Fitting…"):
        from_a, from_b, forward = cache.mixture_fits(separation, weight, dim)
    reverse, other = (from_a, from_b) if start == "A" else (from_b, from_a)
    target = divergences.TwoGaussianMixture(separation, weight, dim=dim)
    fits = [
        (f"reverse KL, started at mode {start}", reverse, REVERSE_COLOUR, "solid"),
        ("forward KL (moment matching)", forward, FORWARD_COLOUR, "dash"),
    ]
    if dim == 1:
        figure = mixture_figure_1d(target, fits, divergences.quadrature_grid(target, 1201).axes[0])
    else:
        x_axis, y_axis = divergences.quadrature_grid(target, 161).axes
        figure = mixture_figure_2d(target, fits, (x_axis, y_axis))
    plot(figure, key="inference_mixture_chart", config=figure_config("", None, EXPORT_PAGE, "mixture-fits"))
    rows = [("reverse, from mode A", from_a), ("reverse, from mode B", from_b), ("forward (moments)", forward)]
    st.table(
        {
            "fit": [name for name, _ in rows],
            "mean z₁": [number(fit.mean[0]) for _, fit in rows],
            "std z₁": [f"{np.sqrt(fit.cov[0, 0]):.2f}" for _, fit in rows],
            "KL(q ‖ p), nats": [nats(fit.kl_reverse) for _, fit in rows],
            "KL(p ‖ q), nats": [nats(fit.kl_forward) for _, fit in rows],
        }
    )
    st.markdown(mixture_note(target, reverse, other, forward, start))


kl_direction_part()
