"""Home: what autoencoders and VAEs are, the ELBO, and a path through the pages."""

import streamlit as st

from ui.shell.projector import prose
from ui.shell.sidebar import current_selection, missing_models_text
from vae_core.engine.literal_text import literal

selection = current_selection()

st.title("VAE Latent Explorer")
prose(
    "Look at what an autoencoder and a variational autoencoder *learn*: where they put each image in their "
    "latent space, what their decoders draw in between, and what the KL term costs and buys."
)

st.header("Autoencoders and VAEs in three paragraphs")
st.markdown(
    "**An autoencoder (AE)** squeezes an image $x$ through a small code $z = f(x)$ and a decoder tries to "
    "rebuild $x$ from $z$ alone. Trained only to reconstruct, it may put codes anywhere it likes: clusters "
    "can be far apart, and the space between them was never decoded during training, so sampling a random "
    "$z$ often gives garbage."
)
st.markdown(
    "**A variational autoencoder (VAE)** encodes $x$ to a whole distribution $q_\\phi(z\\mid x) = "
    "\\mathcal{N}(\\mu(x), \\operatorname{diag}\\sigma^2(x))$, decodes a sample of it, and pays a price for "
    "every bit its codes carry about $x$: the KL divergence from the prior $p(z) = \\mathcal{N}(0, I)$. The "
    "codes are pulled towards the prior, so its region is filled and decoding any $z \\sim p(z)$ draws a "
    "plausible image. Training maximises the evidence lower bound (Kingma & Welling, 2014):"
)
st.latex(
    r"\log p_\theta(x) \;\ge\; \mathrm{ELBO}(x) = "
    r"\underbrace{\mathbb{E}_{q_\phi(z\mid x)}\!\left[\log p_\theta(x\mid z)\right]}_{-\text{reconstruction}}"
    r"\;-\;\beta\,\underbrace{\mathrm{KL}\!\left(q_\phi(z\mid x)\,\|\,p(z)\right)}_{\text{rate}},"
    r"\qquad \beta = 1"
)
st.latex(
    r"\mathrm{KL}\big(\mathcal{N}(\mu,\operatorname{diag}\sigma^2)\,\|\,\mathcal{N}(0,I)\big) = "
    r"\tfrac12 \textstyle\sum_{d}\left(\mu_d^2 + \sigma_d^2 - 1 - \log\sigma_d^2\right)"
)
st.markdown(
    "**The weight β** trades the two terms: β < 1 buys sharper reconstructions with a less regular latent "
    "space, β > 1 a smoother, more prior-like space with blurrier images, and at large β some latent "
    "dimensions carry no information at all (posterior collapse)."
)
st.markdown(
    "**Units.** Reconstruction terms, KL and −ELBO are in nats per image (summed over its pixels), from the "
    "models you pick in the sidebar: averaged over the test split in the model card, the sidebar and the β "
    "page; for one image (a test image, your upload or your drawing) on the ELBO page. Mean squared errors "
    "are per pixel, not nats. −ELBO bounds −log p(x) only where the decoder is a density of what it is fed: a "
    "Bernoulli decoder on binarised images (the shipped models), or a Gaussian one (a continuous density); a "
    "Bernoulli decoder on grey levels gives a cross-entropy instead."
)

st.header("A path through the pages")
st.markdown(
    "1. **Autoencoder family**: the undercomplete autoencoder beside PCA, then sparse, denoising and "
    "contractive autoencoders.\n"
    "2. **Latent space**: the test images as points, AE and VAE side by side; click a point to see its "
    "reconstruction.\n"
    "3. **Decoder grid**: decode a grid of codes; where each model leaves holes, and how well the VAE fills its "
    "prior (clearly on MNIST; the small digits set is too small to show it).\n"
    "4. **Interpolation**: walk from one digit to another, linearly or on the sphere; turn each latent knob.\n"
    "5. **β trade-off**: rate against distortion across a β sweep, collapsed units, samples per β; "
    "train one more β point live.\n"
    "6. **ELBO breakdown**: the bound's terms for one image, and how tight it is.\n"
    "7. **Inference**: the true posterior against the encoder's q(z|x), mean-field, forward against reverse KL.\n"
    "8. **Anomaly detection**: score images of another data set by −log p(x), and why simple images fool it.\n"
    "9. **Conditional VAE**: give the model the class; change the label, keep the style.\n"
    "10. **Train**: train your own model; it joins the model picker when it is done."
)

if selection.entry is None:
    st.info(missing_models_text(selection.dataset))
else:
    st.caption(f"Exploring: {literal(selection.entry.label)} on {selection.dataset}.")
