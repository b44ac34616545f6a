"""Metrics on a data split: -ELBO and its terms, KL per dimension, active units, IW estimate of -log p(x).

The report itself (EvaluationReport) lives in vae_core.engine.results, which needs no torch; 2-D views of the codes
in vae_core.lessons.projection.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vae_core.engine.data import ImageDataset, binary_entropy_floor, measured_inputs
from vae_core.engine.losses import SCALAR_TERMS, iw_log_likelihood
from vae_core.engine.models import LatentModel
from vae_core.engine.protocol import DataProtocol
from vae_core.engine.results import EvaluationReport, TermMeans
from vae_core.engine.vocabulary import ACTIVE_UNIT_VARIANCE


def mean_loss_terms(
    model: LatentModel, images: Tensor, batch_size: int = 1000, beta: float | None = None, labels: Tensor | None = None
) -> TermMeans:
    """Batch-size-weighted means of the loss terms over images (no gradient, model's current mode kept).

    labels: the images' classes, required by models that take them (model.needs_labels), ignored by the others."""
    sums = torch.zeros(len(SCALAR_TERMS))
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            xb = images[start : start + batch_size]
            yb = labels[start : start + batch_size] if labels is not None else None
            terms = model.loss(xb, yb, beta=beta)
            sums += terms.scalars().cpu() * len(xb)
    means = (sums / images.shape[0]).tolist()
    return TermMeans.from_named(SCALAR_TERMS, means)


def evaluate(
    model: LatentModel,
    data: ImageDataset | Tensor,
    *,
    iw_samples: int = 0,
    batch_size: int = 500,
    seed: int = 0,
    protocol: DataProtocol | None = None,
    iw_batch_size: int = 100,
) -> EvaluationReport:
    """Evaluate on a split. Seeded: the same model and data give the same numbers.

    protocol: how the model is measured (vae_core.engine.protocol; `protocol_of(train_config, model_config)` says
    how it was trained). DataProtocol.BINARIZED evaluates on one fixed stochastic binarisation of the images
    (seeded), the usual protocol for models trained with dynamic binarisation; None takes the images as they
    are (GAUSSIAN or GREY_BERNOULLI, by the decoder's likelihood). iw_samples > 0 adds the IW_K estimate of
    -log p(x) (VAEs), except for a Bernoulli decoder on grey levels, whose numbers are cross-entropies: there is
    no -log p(x) to estimate, and the report carries the images' entropy floor instead.
    Every model is given the data set's labels when `data` is an ImageDataset; one that takes them
    (model.needs_labels) refuses bare images.
    """
    images = data.images if isinstance(data, ImageDataset) else data
    labels = data.labels if isinstance(data, ImageDataset) else None
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    protocol = _checked_protocol(protocol, model.config.likelihood)
    images = measured_inputs(images, protocol, seed)
    if not protocol.is_likelihood:
        iw_samples = 0
    n = images.shape[0]
    sums = torch.zeros(4, dtype=torch.float64)
    kl_per_dim = torch.zeros(model.config.latent_dim, dtype=torch.float64)
    codes, iw = [], []
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, n, batch_size):
                xb = images[start : start + batch_size].to(device)
                yb = labels[start : start + batch_size].to(device) if labels is not None else None
                terms, reconstruction, code = (
                    model.loss(xb, yb, beta=1.0),
                    model.reconstruct(xb, yb),
                    model.embed(xb, yb),
                )
                sums += torch.stack(
                    [terms.recon, terms.kl, terms.regularizer, (reconstruction - xb).pow(2).mean()]
                ).double().cpu() * len(xb)
                kl_per_dim += terms.kl_per_dim.double().cpu() * len(xb)
                codes.append(code.cpu())
            if iw_samples > 0 and model.config.is_variational:
                iw_gen = torch.Generator(device=device).manual_seed(seed)
                for start in range(0, n, iw_batch_size):
                    xb = images[start : start + iw_batch_size].to(device)
                    yb = labels[start : start + iw_batch_size].to(device) if labels is not None else None
                    # log p(x), or log p(x | y) for a conditional model
                    log_px = iw_log_likelihood(model.iw_log_weights(xb, yb, k=iw_samples, generator=iw_gen))
                    iw.append(log_px.double().cpu())
    finally:
        model.train(was_training)
    recon, kl, regularizer, mse = (sums / n).tolist()
    n_active, variances = active_units(torch.cat(codes))
    variational = model.config.is_variational
    return EvaluationReport(
        n_images=n,
        recon=recon,
        kl=kl,
        neg_elbo=recon + kl if variational else None,
        kl_per_dim=tuple((kl_per_dim / n).tolist()),
        regularizer=regularizer,
        active_units=n_active,
        latent_variance=tuple(variances.tolist()),
        iw_nll=-float(torch.cat(iw).mean()) if iw else None,
        iw_samples=iw_samples if iw else 0,
        binarized=protocol.binarizes_inputs,
        mse=mse,
        protocol=protocol.value,
        entropy_floor=None if protocol.is_likelihood else binary_entropy_floor(images),
    )


def _checked_protocol(protocol: DataProtocol | None, likelihood: str) -> DataProtocol:
    """The protocol to measure a model with this likelihood by: its grey-level one for None. A grey-level
    protocol that names the other likelihood (GAUSSIAN for a Bernoulli decoder, or the reverse) is refused."""
    grey = DataProtocol.GAUSSIAN if likelihood == "gaussian" else DataProtocol.GREY_BERNOULLI
    if protocol is None or protocol.binarizes_inputs:
        return protocol or grey
    if protocol is not grey:
        raise ValueError(f"a {likelihood} decoder cannot be measured under the {protocol.value} protocol")
    return protocol


def active_units(codes: Tensor, threshold: float = ACTIVE_UNIT_VARIANCE) -> tuple[int, Tensor]:
    """(number of active dimensions, per-dimension variance over the data of the mean code).

    Burda et al. (2015): unit d is active when Cov_x(E_q[z_d]) exceeds the threshold (vae_core.engine.vocabulary)."""
    variances = codes.double().var(0, unbiased=False)
    return int((variances > threshold).sum()), variances


def embed_dataset(model: LatentModel, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Deterministic codes (N, D) for all images: the AE's code, the VAE's posterior mean."""
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.cat(
            [model.embed(images[s : s + batch_size].to(device)).cpu() for s in range(0, images.shape[0], batch_size)]
        )
