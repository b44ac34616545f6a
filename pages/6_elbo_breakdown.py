"""ELBO breakdown: one image's reconstruction and KL terms, the IW estimate of -log p(x), and the AE for contrast."""

from pathlib import Path

import numpy as np
import streamlit as st

from ui.figures.elbo import informative, kl_per_dim_figure, objective_figure, posterior_figure
from ui.shell.sidebar import current_selection, require_model
from ui.state import elbo_cache
from ui.state.loaders import model_or_none
from ui.widgets.elbo_widgets import choose_image, pick_models
from vae_core import elbo_report as elbo
from vae_core.images import enlarge
from vae_core.vocabulary import INFORMATIVE_IMAGE_KL

BETA_PAGE = Path(__file__).with_name("5_beta_tradeoff.py")  # a sibling page, wherever the pages folder is

selection = current_selection()
st.title("ELBO breakdown")
st.markdown(
    "Give the VAE one image and read its loss like a bill: how many nats it costs to **reconstruct** the image, "
    "how many the **KL** term charges for the code, and how close the resulting bound comes to −log p(x). "
    "Watch which latent dimensions leave the prior: those are the ones that carry information about *this* image."
)
require_model(selection)
vae_entry, ae_entry = pick_models(selection)
if vae_entry is None:
    st.info("This page needs a VAE for this data set; train one on the **Train** page.")
    st.stop()
if model_or_none(vae_entry.ref(selection.device)) is None:
    st.stop()

# --- 1. the input -------------------------------------------------------------------------------------
st.header("1 · Choose an image")
chosen = choose_image(selection.dataset, vae_entry.input_shape)
if chosen is None:
    st.stop()
image = np.ascontiguousarray(chosen.image, dtype=np.float32)
vae = vae_entry.ref(selection.device)

# --- 2. the terms -------------------------------------------------------------------------------------
st.header("2 · The bound's terms for this image")
left, right = st.columns([1, 3])
seed = int(left.number_input("Random seed of the draws", 0, 2**31 - 1, 0, key="elbo_seed",
                             help="Every sampled number below is reproducible from this seed."))
right.button("New draws", key="elbo_new_draws",
             on_click=lambda: st.session_state.update(elbo_seed=int(st.session_state["elbo_seed"]) + 1))
terms = elbo_cache.breakdown(vae, image, seed=seed)
metrics = st.columns(3)
metrics[0].metric("Reconstruction", f"{terms.recon:.2f}",
                  help=f"E_q[−log p(x|z)] in nats, averaged over {terms.n_samples} draws z ~ q(z|x).")
metrics[1].metric("KL", f"{terms.kl:.2f}",
                  help="KL(q(z|x) ‖ p(z)) in nats, exact for Gaussians (Kingma & Welling, 2014, App. B).")
metrics[2].metric("−ELBO", f"{terms.neg_elbo:.2f}", help="Reconstruction + KL: an upper bound on −log p(x).")


@st.fragment
def tightness() -> None:
    """The IW estimate and its K slider: moving K reruns only this part."""
    slider, estimate, gap = st.columns([2, 1, 1])
    k = int(slider.select_slider("K, importance samples for the estimate of −log p(x)", elbo.IW_CHOICES,
                                 value=1000, key="elbo_k",
                                 help="K = 1 is a one-sample ELBO; the estimate tightens as K grows."))
    iw_nll = elbo_cache.iw_nll(vae, image, k=k, seed=seed)
    estimate.metric(f"IW, K={k}", f"{iw_nll:.2f}",
                    help="−IW_K (Burda et al., 2015): an estimate of −log p(x) in nats from K draws, "
                         "closer for larger K.")
    gap.metric("Gap", f"{terms.neg_elbo - iw_nll:.2f}",
               help="−ELBO − IW: how loose the bound is for this image, about KL(q(z|x) ‖ p(z|x)).")
    st.caption(f"In nats for this image: −ELBO = reconstruction + KL ≥ −log p(x) ≈ {iw_nll:.2f} (IW estimate, "
               f"K = {k}). A lower −log p(x) means the model finds the image more probable.")


tightness()
decoded_mean, samples = elbo_cache.pictures(vae, image, seed=seed)
pictures = st.columns([1, 1, 4])
pictures[0].image(enlarge(image), caption=f"Input x: {chosen.description}")
pictures[1].image(enlarge(decoded_mean), caption="Decoded at μ(x)")
pictures[2].image([enlarge(s, 84) for s in samples], caption=[f"z ~ q(z|x) #{i + 1}" for i in range(len(samples))])

# --- 3. KL per dimension ------------------------------------------------------------------------------
st.header("3 · Which dimensions carry information")
st.markdown("A dimension whose posterior sits on the prior (μ ≈ 0, σ ≈ 1) costs no KL and tells the decoder "
            "nothing about this image; one that is narrow and off-centre pays for the information it carries.")
# side by side for a few dimensions; one above the other, full width, when there are many
figures = st.columns(2) if terms.kl_per_dim.size <= 16 else (st.container(), st.container())
figures[0].plotly_chart(posterior_figure(terms), key="elbo_posterior_chart")
figures[1].plotly_chart(kl_per_dim_figure(terms), key="elbo_kl_chart")
n_informative = int(informative(terms).sum())
st.caption(f"{n_informative} of {terms.kl_per_dim.size} dimensions carry at least {INFORMATIVE_IMAGE_KL:g} nats about this "
           "image (blue); the grey ones sit on the prior.")

# --- 4. the autoencoder -------------------------------------------------------------------------------
st.header("4 · The autoencoder, for contrast")
if ae_entry is None or model_or_none(ae_entry.ref(selection.device)) is None:
    st.info("No autoencoder fits this data set; train one on the **Train** page to compare.")
else:
    ae_terms = elbo_cache.ae_breakdown(ae_entry.ref(selection.device), image)
    cols = st.columns([1, 1, 3])
    cols[0].image(enlarge(ae_terms.reconstruction), caption="AE reconstruction")
    cols[1].metric("AE reconstruction (nats)", f"{ae_terms.recon:.2f}",
                   help=f"−log p(x | x̂) with the AE's {ae_terms.likelihood} likelihood, at its one fixed code.")
    cols[1].metric("AE mean squared error", f"{ae_terms.mse:.4f}", help="Per pixel, of the reconstruction.")
    cols[2].markdown(
        f"The AE only reports how well it rebuilds x (VAE reconstruction term: {terms.recon:.2f} nats). "
        "It has **no KL** and **no bound on −log p(x)**: nothing stops its codes from going anywhere, so it cannot "
        "say how probable this image is, and its reconstruction is usually sharper because no code is charged for."
        + (f" Its objective adds a penalty of {ae_terms.regularizer:.2f}." if ae_terms.regularizer else "")
    )

# --- 5. beta ------------------------------------------------------------------------------------------
st.header("5 · β: weighing the KL differently")


@st.fragment
def beta_section() -> None:
    """The β slider re-weighs the same terms: moving it reruns only this part."""
    weighed = terms.with_beta(st.select_slider("β", elbo.BETA_CHOICES, value=1.0, key="elbo_beta"))
    cols = st.columns([1, 1, 3])
    cols[0].metric("β·KL (nats)", f"{weighed.beta_kl:.2f}")
    cols[1].metric("Objective (nats)", f"{weighed.objective:.2f}",
                   help="Reconstruction + β·KL: what a model trained at this β would minimise for this image.")
    cols[2].plotly_chart(objective_figure(weighed, np.linspace(0, max(elbo.BETA_CHOICES), 81)), key="elbo_beta_chart")


beta_section()
st.markdown(
    "Moving β only re-weighs the bill for **this** model's posterior: reconstruction and KL stay put, and at "
    "β = 1 the objective is −ELBO. The posterior itself changes only in a model *trained* at that β (larger β: "
    "posteriors closer to the prior, less KL, a worse reconstruction); compare such models on the β page."
)
if BETA_PAGE.is_file():
    # page_link takes the path relative to the main script (app.py), one folder up from this page
    st.page_link(f"{BETA_PAGE.parent.name}/{BETA_PAGE.name}", label="Compare models trained at different β",
                 icon=":material/tune:")
