"""ELBO breakdown: one image's reconstruction and KL terms, the IW estimate of -log p(x), and the AE for contrast."""

import math

import numpy as np
import streamlit as st

from ui.figures.elbo import (
    COLOUR_NAMES,
    IDLE_COLOUR,
    KL_COLOUR,
    POSTERIOR_COLOUR,
    informative,
    iw_curve_figure,
    kl_per_dim_figure,
    objective_figure,
    posterior_figure,
)
from ui.shell.lessons import LESSONS
from ui.shell.projector import prose, setup_section
from ui.shell.sidebar import current_selection, require_model
from ui.state import elbo_cache
from ui.state.loaders import model_or_none
from ui.widgets import bound
from ui.widgets.chart import plot, plot_in
from ui.widgets.elbo_widgets import pick_models
from ui.widgets.export import figure_config, image_download
from ui.widgets.image_chooser import choose_image
from vae_core.engine.literal_text import literal
from vae_core.engine.protocol import metric_names
from vae_core.engine.vocabulary import INFORMATIVE_IMAGE_KL, dim_name
from vae_core.lessons import elbo_report as elbo
from vae_core.lessons.elbo_report import entry_protocol, format_with_error, like_for_like_ae
from vae_core.serving.images import DEFAULT_SIZE_PX, enlarge, strip_png

EXPORT_PAGE = "elbo-breakdown"  # the page's part of every download's file name
AVERAGE_KEY = "elbo_binarize_average"  # the "average over binarisations" switch
AVERAGE_KEPT_KEY = "elbo_binarize_average_kept"  # its state, kept while the switch is not drawn
selection = current_selection()
st.title("ELBO breakdown")
prose(
    "Give the VAE one image and read its loss like a bill: how many nats it costs to **reconstruct** the image, "
    "how many the **KL** term charges for the code, and how close the resulting bound comes to −log p(x). "
    "Watch which latent dimensions leave the prior: those are the ones the code uses for *this* image."
)
require_model(selection)
vae_entry, ae_entry = pick_models(selection)
if vae_entry is None:
    st.info("This page needs a VAE for this data set; train one on the **Train** page.")
    st.stop()
if model_or_none(vae_entry.ref(selection.device)) is None:
    st.stop()
protocol = entry_protocol(vae_entry)
names = metric_names(protocol, variational=True)
vae = vae_entry.ref(selection.device)
vae_name = vae_entry.info.name  # for the download names (the fragments below see the module's names unnarrowed)

# --- 1. the input -------------------------------------------------------------------------------------
with setup_section("1 · Choose an image"):  # folded in projector mode: the terms rise onto the first screen
    chosen = choose_image(selection.dataset, vae_entry.input_shape, protocol, "elbo")
if chosen is None:
    st.stop()
image = chosen.measured  # what the model is measured on: the binarised copy for a binarised model
grey = chosen.grey
if names.caveat:
    st.warning(f"{names.caveat} For this image that floor is {elbo_cache.entropy_floor(chosen.grey):.1f} nats.")

# --- 2. the terms -------------------------------------------------------------------------------------
st.header(f"2 · The {'bound' if protocol.is_likelihood else 'objective'}'s terms for this image")
left, right = st.columns([1, 3])
seed = int(
    bound.number_input(
        "Random seed of the draws",
        key="elbo_seed",
        min_value=0,
        max_value=2**31 - 1,
        value=0,
        help="Every sampled number below is reproducible from this seed.",
        container=left,
    )
)
right.button(
    "New draws",
    key="elbo_new_draws",
    on_click=lambda: st.session_state.update(elbo_seed=int(st.session_state["elbo_seed"]) + 1),
)
terms = elbo_cache.breakdown(vae, image, seed=seed)
noise = terms.recon_stderr
metrics = st.columns(3)
metrics[0].metric(
    "Reconstruction",
    format_with_error(terms.recon, noise),
    help=f"{names.recon} in nats, averaged over {terms.n_samples} draws z ~ q(z|x), ± its standard error.",
)
metrics[1].metric(
    "KL", f"{terms.kl:.2f}", help="KL(q(z|x) ‖ p(z)) in nats, exact for Gaussians (Kingma & Welling, 2014, App. B)."
)
metrics[2].metric(
    "−ELBO",
    format_with_error(terms.neg_elbo, noise),
    help=f"Reconstruction + KL: {names.neg_elbo}, ± its standard error.",
)
st.caption(
    f"Nats for this one image. The reconstruction term is a Monte Carlo average over {terms.n_samples} "
    f"draws, so it and −ELBO carry its standard error ({noise:.2g} nats) and are shown to the digits that "
    "noise supports; the KL is exact."
)

if protocol.binarizes_inputs:

    @st.fragment
    def binarisation_spread() -> None:
        """The mean over several binarisations of the same grey image: the toggle reruns only this part."""
        seeds = tuple(range(elbo.BINARIZATION_SEEDS))
        # The switch is not drawn while another source has no image yet, and the browser then forgets its state
        # while the server keeps it: redrawn, it showed off over a shown average. Its state is kept under a key of
        # its own and given back to the switch each run, so the browser is always told what the page shows.
        st.session_state[AVERAGE_KEY] = bool(st.session_state.get(AVERAGE_KEPT_KEY, False))
        if not st.toggle(
            f"Average −ELBO over {len(seeds)} binarisations (seeds 0–{seeds[-1]})",
            key=AVERAGE_KEY,
            on_change=lambda: st.session_state.update({AVERAGE_KEPT_KEY: st.session_state[AVERAGE_KEY]}),
        ):
            return
        mean, spread = elbo_cache.binarized_spread(vae, grey, seeds=seeds, draw_seed=seed)
        cols = st.columns([2, 3])
        cols[0].metric(
            f"−ELBO, mean of {len(seeds)} binarisations", format_with_error(mean, spread / math.sqrt(len(seeds)))
        )
        cols[1].caption(
            f"Standard deviation over the binarisations: {spread:.1f} nats. Which binary copy of a grey "
            "image the model is shown moves its −ELBO by that much; the number above, for one copy, "
            "is one draw of it."
        )

    binarisation_spread()


@st.fragment
def tightness() -> None:
    """The IW estimate against K and its K slider: moving K reruns only this part."""
    if names.iw is None:
        st.info(
            "No importance-weighted estimate here: on grey levels a Bernoulli decoder is not a density of the "
            "image, so there is no −log p(x) to estimate."
        )
        return
    # the slider on a row of its own: its metrics, "25.33 ± 0.02", need the width the terms' metrics have
    slider = st.container()
    estimate, gap, _ = st.columns(3)
    k = int(
        bound.select_slider(
            "K, importance samples for the estimate of −log p(x)",
            elbo.IW_CHOICES,
            key="elbo_k",
            value=elbo.IW_DEFAULT_K,
            help="K = 1 is a one-sample ELBO. The estimate's *expectation* falls towards "
            "−log p(x) as K grows; a single draw need not.",
            container=slider,
        )
    )
    seeds = elbo.iw_seeds(seed)
    curve = elbo_cache.iw_curve(vae, image, ks=[c for c in elbo.IW_CHOICES if c <= k], seeds=seeds)
    mean, spread = curve.at(k)
    mean_noise = spread / math.sqrt(len(seeds))
    estimate.metric(
        f"IW, K={k}",
        format_with_error(mean, mean_noise),
        help=f"{names.iw}: −IW_K (Burda et al., 2015), the mean over {len(seeds)} seeds ± its standard error "
        f"({seeds[0]}–{seeds[-1]}) of K draws each; one draw's standard deviation is {spread:.2g}.",
    )
    gap_value = terms.neg_elbo - mean
    gap.metric(
        "Gap",
        format_with_error(gap_value, math.hypot(mean_noise, noise)),
        help="−ELBO − (−IW_K) = KL(q(z|x) ‖ p(z|x)) − (log p(x) − IW_K): since IW_K is below log p(x) on "
        "average, a lower estimate of how far q(z|x) is from the true posterior. ± its standard error, from "
        "the reconstruction term's draws and the IW seeds' spread together.",
    )
    if k > 1:
        plot(
            iw_curve_figure(curve, terms.neg_elbo, k),
            key="elbo_iw_chart",
            config=figure_config(selection.dataset, vae_name, EXPORT_PAGE, "iw-against-k"),
        )
        rising = [s for s, row in zip(curve.seeds, curve.iw_nll, strict=True) if np.any(np.diff(row) > 0)]
        one_draw = (
            f"{len(rising)} of {len(seeds)} seeds' estimates rise somewhere as K grows: one draw does "
            "not always tighten."
            if rising
            else "Here every seed's estimate falls as K grows."
        )
        st.caption(
            f"Each {COLOUR_NAMES[IDLE_COLOUR]} line is one seed, its estimate for K using the first K of its draws; "
            f"{COLOUR_NAMES[POSTERIOR_COLOUR]}: their mean ± one standard deviation; dashed "
            f"{COLOUR_NAMES[KL_COLOUR]}: −ELBO from the terms above. {one_draw} The mean goes from "
            f"{format_with_error(curve.mean[0], curve.spread[0] / math.sqrt(len(seeds)))} at K = 1 to "
            f"{format_with_error(mean, mean_noise)} at K = {k}; the spread shrinks from {curve.spread[0]:.2g} to "
            f"{spread:.2g} nats. At K = 1 each estimate is a one-sample −ELBO, whose expectation is the "
            f"{COLOUR_NAMES[KL_COLOUR]} line, wherever these few seeds fall."
        )
    st.caption(
        f"In nats for this image: −ELBO = reconstruction + KL ≥ −log p(x) ≈ {format_with_error(mean, mean_noise)} "
        f"(IW estimate, K = {k}). A lower −log p(x) means the model finds the image more probable."
    )


tightness()
decoded_mean, samples = elbo_cache.pictures(vae, image, seed=seed)
pictures = st.columns([1, 1, 3])  # a fifth of the page each: the digits keep READABLE_PX
binarised = f", binarised (seed {chosen.binarization_seed})" if protocol.binarizes_inputs else ""
pictures[0].image(enlarge(image), caption=f"Input x: {chosen.description}{binarised}")
pictures[1].image(enlarge(decoded_mean), caption="Decoded at μ(x)")
pictures[2].image([enlarge(s, 84) for s in samples], caption=[f"z ~ q(z|x) #{i + 1}" for i in range(len(samples))])
image_download(
    strip_png(list(samples), 84),
    selection.dataset,
    vae_entry.info.name,
    EXPORT_PAGE,
    f"posterior-samples-seed{seed}",
    key="elbo_samples_png",
    container=pictures[2],
)

# --- 3. KL per dimension ------------------------------------------------------------------------------
st.header("3 · Which dimensions the code uses")
prose(
    "A dimension whose posterior sits on the prior (μ ≈ 0, σ ≈ 1) costs no KL and tells the decoder "
    "nothing about this image; one that is narrow and off-centre costs KL. That cost is not the "
    "information the dimension carries about this image: only *averaged over the data* does the KL "
    "bound the mutual information between x and z from above."
)
# side by side for a few dimensions; one above the other, full width, when there are many
figures = st.columns(2) if terms.kl_per_dim.size <= 16 else (st.container(), st.container())
plot_in(
    figures[0],
    posterior_figure(terms),
    key="elbo_posterior_chart",
    config=figure_config(selection.dataset, vae_entry.info.name, EXPORT_PAGE, "posterior"),
)
plot_in(
    figures[1],
    kl_per_dim_figure(terms),
    key="elbo_kl_chart",
    config=figure_config(selection.dataset, vae_entry.info.name, EXPORT_PAGE, "kl-per-dimension"),
)
used = informative(terms)
largest = int(np.argmax(terms.kl_per_dim))
idle = f"the {COLOUR_NAMES[IDLE_COLOUR]} ones sit on the prior" if not used.all() else "none sits on the prior"
st.caption(
    f"{int(used.sum())} of {used.size} dimensions are informative for this image, their KL at least "
    f"{INFORMATIVE_IMAGE_KL:g} nats ({COLOUR_NAMES[POSTERIOR_COLOUR]} in both plots); {idle}. The largest, "
    f"{dim_name(largest)}, costs {terms.kl_per_dim[largest]:.2f} of the {terms.kl:.2f} nats."
)

# --- 4. the autoencoder -------------------------------------------------------------------------------
st.header("4 · The autoencoder, for contrast")
if ae_entry is None or model_or_none(ae_entry.ref(selection.device)) is None:
    st.info("No autoencoder fits this data set; train one on the **Train** page to compare.")
else:
    ae_protocol = entry_protocol(ae_entry)
    ae_terms = elbo_cache.ae_breakdown(ae_entry.ref(selection.device), chosen.measured_for(ae_protocol))
    words = {p: "grey-level" if p.value.startswith("grey") else p.value for p in (protocol, ae_protocol)}
    mismatch = [
        what
        for what, differs in (
            (
                f"a {ae_entry.latent_dim}-D code against the VAE's {vae_entry.latent_dim}-D one",
                ae_entry.latent_dim != vae_entry.latent_dim,
            ),
            (f"{words[ae_protocol]} inputs against the VAE's {words[protocol]} ones", ae_protocol is not protocol),
        )
        if differs
    ]
    cols = st.columns([1, 1, 1.3, 1.3])
    cols[0].image(enlarge(ae_terms.reconstruction), caption="AE reconstruction")
    cols[1].image(enlarge(decoded_mean), caption="VAE decoded at μ(x)")
    image_download(
        strip_png([ae_terms.reconstruction, decoded_mean], DEFAULT_SIZE_PX),
        selection.dataset,
        ae_entry.info.name,
        EXPORT_PAGE,
        "ae-reconstruction-and-vae-decoded-mean",
        key="elbo_ae_pair_png",
        container=cols[1],
    )
    cols[2].metric(
        "AE reconstruction (nats)",
        f"{ae_terms.recon:.2f}",
        help=f"{metric_names(ae_protocol, variational=False).recon} with the AE's {ae_terms.likelihood} "
        "likelihood, at its one fixed code.",
    )
    cols[3].metric(
        "AE mean squared error",
        f"{ae_terms.mse:.4f}",
        help="Per pixel (not nats), between the reconstruction and the image the AE was given.",
    )
    if mismatch:
        twin = like_for_like_ae(list(selection.entries), vae_entry)
        st.warning(
            "Not a like-for-like comparison: this AE has "
            + " and ".join(mismatch)
            + "."
            + (
                f" Pick {literal(twin.label)} for one."
                if twin
                else " No AE with the VAE's latent size and data protocol is available; train one on the "
                "**Train** page."
            )
        )
    if ae_protocol is protocol:
        st.markdown(
            elbo.contrast_text(ae_terms, terms, protocol)
            + (f" The AE's objective adds a penalty of {ae_terms.regularizer:.2f}." if ae_terms.regularizer else "")
        )

# --- 5. beta ------------------------------------------------------------------------------------------
st.header("5 · β: weighing the KL differently")


@st.fragment
def beta_section() -> None:
    """The β slider re-weighs the same terms: moving it reruns only this part."""
    weighed = terms.with_beta(bound.select_slider("β", elbo.BETA_CHOICES, key="elbo_beta", value=1.0))
    cols = st.columns([1, 1, 3])
    cols[0].metric("β·KL (nats)", f"{weighed.beta_kl:.2f}")
    cols[1].metric(
        "Objective (nats)",
        format_with_error(weighed.objective, noise),
        help="Reconstruction + β·KL: what a model trained at this β would minimise for this image (± the "
        "reconstruction term's standard error).",
    )
    plot_in(
        cols[2],
        objective_figure(weighed, np.linspace(0, max(elbo.BETA_CHOICES), 81)),
        key="elbo_beta_chart",
        config=figure_config(selection.dataset, vae_name, EXPORT_PAGE, "beta-objective"),
    )


beta_section()
prose(
    "Moving β only re-weighs the bill for **this** model's posterior: reconstruction and KL stay put, and at "
    "β = 1 the objective is −ELBO. The posterior itself changes only in a model *trained* at that β (larger β: "
    "posteriors closer to the prior, less KL, a worse reconstruction); compare such models on the β page."
)
st.page_link(LESSONS["beta_tradeoff"].script, label="Compare models trained at different β", icon=":material/tune:")
