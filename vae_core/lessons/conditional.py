"""What the conditional VAE page shows, without Streamlit: the same z decoded as every class, style transfer,
codes of a test set, and KL per dimension of a CVAE beside a VAE of the same size.

All functions run under no_grad, take plain tensors or arrays, and are seeded where they draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor

    from vae_core.engine.models import VAE, LatentModel
    from vae_core.engine.models.cvae import ConditionalVAE


def decode_every_class(
    model: ConditionalVAE, codes: np.ndarray | Tensor, classes: list[int] | None = None
) -> np.ndarray:
    """Each code decoded with each label: images shaped (n_codes, n_classes, H, W) in [0, 1] (first channel).

    Row i holds the same z_i for every class: what stays the same across a row is what z encodes (the style).
    """
    import torch

    classes = list(range(model.config.num_classes)) if classes is None else classes
    device = next(model.parameters()).device
    z = torch.as_tensor(np.asarray(codes), dtype=torch.float32, device=device)
    if z.ndim != 2 or z.shape[1] != model.config.latent_dim:
        raise ValueError(f"codes must be (n, {model.config.latent_dim}), got {tuple(z.shape)}")
    labels = torch.as_tensor(classes, device=device)
    with torch.no_grad():
        images = model.decode(z.repeat_interleave(len(classes), 0), labels.repeat(z.shape[0]))
    return images[:, 0].view(z.shape[0], len(classes), *images.shape[2:]).cpu().numpy()


def prior_codes(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """n draws z ~ N(0, I), seeded (the rows of the same-z matrix)."""
    import torch

    return torch.randn((n, latent_dim), generator=torch.Generator().manual_seed(seed)).numpy()


def style_transfer(model: ConditionalVAE, image: np.ndarray | Tensor, label: int) -> np.ndarray:
    """Encode one image (H, W) with its own label, decode its posterior mean with every label: (n_classes, H, W)."""
    import torch

    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32, device=device).reshape(1, *model.config.input_shape)
    with torch.no_grad():
        out = model.transfer_style(
            x, torch.tensor([label], device=device), torch.arange(model.config.num_classes, device=device)
        )
    return out[0, :, 0].cpu().numpy()


CLASS_GUESS_K = 200  # importance samples per class for log p(x | y) in class_posterior


def class_posterior(
    model: ConditionalVAE, image: np.ndarray | Tensor, *, k: int = CLASS_GUESS_K, seed: int = 0
) -> np.ndarray:
    """p(y | x) for one image (H, W), as the model itself would classify it: Bayes' rule with a uniform p(y),
    p(y | x) ∝ p(x | y), and log p(x | y) estimated by IW_k with q(z | x, y) as proposal (Burda et al. 2015),
    one seeded generator for all classes. Pass the image as the model is measured (binarised for a binarised
    model). Returns (num_classes,) probabilities summing to 1."""
    import torch

    from vae_core.engine.losses import iw_log_likelihood

    n_classes = model.config.num_classes
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(image), dtype=torch.float32, device=device).reshape(1, *model.config.input_shape)
    with torch.no_grad():
        log_weights = model.iw_log_weights(
            x.expand(n_classes, *x.shape[1:]),
            torch.arange(n_classes, device=device),
            k=k,
            generator=torch.Generator(device=device).manual_seed(seed),
        )
        log_px_given_y = iw_log_likelihood(log_weights).double()
    return torch.softmax(log_px_given_y, 0).cpu().numpy()


def posterior_means(model: LatentModel, images: Tensor, labels: Tensor, batch_size: int = 1000) -> np.ndarray:
    """Posterior means (N, D) of a test set; every model is given each image's own label (a conditional one uses
    it, the others ignore it)."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            xb = images[start : start + batch_size].to(device)
            out.append(model.embed(xb, labels[start : start + batch_size].to(device)))
    return torch.cat(out).cpu().numpy()


@dataclass(frozen=True)
class KlComparison:
    """Test-set KL per latent dimension of a CVAE and a VAE of the same size, nats per image."""

    cvae_kl_per_dim: np.ndarray  # (D,)
    vae_kl_per_dim: np.ndarray  # (D,)
    cvae_recon: float
    vae_recon: float

    @property
    def cvae_kl(self) -> float:
        return float(self.cvae_kl_per_dim.sum())

    @property
    def vae_kl(self) -> float:
        return float(self.vae_kl_per_dim.sum())


def compare_kl(
    cvae: ConditionalVAE, vae: VAE, images: Tensor, labels: Tensor, *, seed: int = 0, batch_size: int = 500
) -> KlComparison:
    """The closed-form KL per dimension and the reconstruction term of both models on the same images (as they are
    measured: pass binarised images for binarised models), averaged over the images."""
    import torch

    if cvae.config.latent_dim != vae.config.latent_dim:
        raise ValueError("compare models with the same latent size")
    kl_sums = {
        name: torch.zeros(m.config.latent_dim, dtype=torch.float64) for name, m in (("cvae", cvae), ("vae", vae))
    }
    recon_sums = {"cvae": 0.0, "vae": 0.0}
    n = images.shape[0]
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for start in range(0, n, batch_size):
            xb, yb = images[start : start + batch_size], labels[start : start + batch_size]
            for name, terms in (
                ("cvae", cvae.loss(xb, yb, beta=1.0, generator=generator)),
                ("vae", vae.loss(xb, yb, beta=1.0, generator=generator)),
            ):
                kl_sums[name] += terms.kl_per_dim.double().cpu() * len(xb)
                recon_sums[name] += float(terms.recon) * len(xb)
    return KlComparison(
        cvae_kl_per_dim=(kl_sums["cvae"] / n).numpy(),
        vae_kl_per_dim=(kl_sums["vae"] / n).numpy(),
        cvae_recon=recon_sums["cvae"] / n,
        vae_recon=recon_sums["vae"] / n,
    )


def label_predictability(codes: np.ndarray, labels: np.ndarray, *, neighbours: int = 5, seed: int = 0) -> float:
    """How much of the class a code still holds: the test accuracy of a k-nearest-neighbour classifier on the
    codes (scikit-learn; half the points to fit, half to score, stratified and seeded). Chance is 1 / classes."""
    from sklearn.model_selection import train_test_split
    from sklearn.neighbors import KNeighborsClassifier

    fit_x, score_x, fit_y, score_y = train_test_split(
        np.asarray(codes), np.asarray(labels), test_size=0.5, random_state=seed, stratify=np.asarray(labels)
    )
    return float(KNeighborsClassifier(n_neighbors=neighbours).fit(fit_x, fit_y).score(score_x, score_y))
