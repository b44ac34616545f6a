"""Disentanglement measured against known factors (the sprites, vae_core.engine.sprites): no Streamlit here.

- The mutual information of each factor with each code dimension, the codes discretised into equal-width bins
  (Locatello et al. 2019's estimator of what Chen et al. 2018 call I(v_k; z_j)), normalised by the factor's entropy.
- MIG, the mutual information gap (Chen et al. 2018, eq. 6): per factor, the gap between its two most informative
  dimensions, over its entropy; averaged over the factors. 1: each factor lives in one dimension alone.
- The FactorVAE score (Kim & Mnih 2018, section 4): fix one factor, draw a batch that varies in all others,
  the dimension of least normalised variance votes for that factor; the accuracy of the majority-vote
  classifier from dimensions to factors on fresh votes. 1: each factor has a dimension that moves with it alone.

Shipped models carry their numbers (zoo metadata "disentanglement"): computing them takes about a second, more
than a page may spend on opening; tests/zoo/test_shipped_checkpoints.py recomputes and compares them.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, fields

import numpy as np

from vae_core.engine.vocabulary import ACTIVE_UNIT_VARIANCE

MI_BINS = 20  # equal-width bins per code dimension (Locatello et al. 2019's default)
FACTOR_VAE_BATCH = 64  # L: images per vote, all sharing one factor value (Kim & Mnih 2018)
FACTOR_VAE_TRAIN_VOTES = 5000  # votes that build the majority-vote classifier
FACTOR_VAE_EVAL_VOTES = 2500  # fresh votes it is scored on
FACTOR_VAE_SEED = 0  # seeds the votes: the score of a model is one number, reproducible
TRAVERSAL_SPAN = 3.0  # latent traversals sweep z_d over ±3 prior standard deviations
LESSON_KINDS = ("vae", "tcvae")  # the model kinds the lesson compares (β weighs the KL, or its TC alone)


def discretize(codes: np.ndarray, bins: int = MI_BINS) -> np.ndarray:
    """Each column of codes (N, D) as bin indices 0..bins-1 of `bins` equal-width bins over its own range."""
    codes = np.asarray(codes, dtype=np.float64)
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        column = codes[:, j]
        low, high = column.min(), column.max()
        if high > low:
            edges = np.linspace(low, high, bins + 1)[1:-1]  # inner edges; the top value falls in the last bin
            out[:, j] = np.searchsorted(edges, column, side="right")
    return out


def entropy(labels: np.ndarray) -> float:
    """The empirical entropy of discrete labels, in nats."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """The empirical mutual information of two discrete label arrays, in nats (plug-in: from their joint table)."""
    _, ia = np.unique(np.asarray(a), return_inverse=True)
    _, ib = np.unique(np.asarray(b), return_inverse=True)
    joint = np.zeros((ia.max() + 1, ib.max() + 1))
    np.add.at(joint, (ia.ravel(), ib.ravel()), 1.0)
    joint /= joint.sum()
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return float(max((joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])).sum(), 0.0))


def normalized_mi_matrix(codes: np.ndarray, factors: np.ndarray, bins: int = MI_BINS) -> np.ndarray:
    """I(v_k; z_j) / H(v_k) for every factor k (rows) and code dimension j (columns), (F, D), each in [0, 1]."""
    binned = discretize(codes, bins)
    factors = np.asarray(factors)
    matrix = np.zeros((factors.shape[1], binned.shape[1]))
    for k in range(factors.shape[1]):
        h = entropy(factors[:, k])
        for j in range(binned.shape[1]):
            matrix[k, j] = mutual_information(factors[:, k], binned[:, j]) / h if h > 0 else 0.0
    return matrix


def mig_per_factor(normalized_mi: np.ndarray) -> np.ndarray:
    """(I(v_k; z_top) - I(v_k; z_second)) / H(v_k) for each factor: the gap of its two best dimensions."""
    ranked = np.sort(np.asarray(normalized_mi), axis=1)[:, ::-1]
    second = ranked[:, 1] if ranked.shape[1] > 1 else np.zeros(ranked.shape[0])
    return ranked[:, 0] - second


def mig(normalized_mi: np.ndarray) -> float:
    """The mutual information gap (Chen et al. 2018): mig_per_factor averaged over the factors."""
    return float(mig_per_factor(normalized_mi).mean())


def active_dims(codes: np.ndarray, threshold: float = ACTIVE_UNIT_VARIANCE) -> np.ndarray:
    """The dimensions whose codes vary across the data (variance above the active-unit threshold)."""
    return np.flatnonzero(np.asarray(codes, dtype=np.float64).var(axis=0) > threshold)


def factor_vae_votes(
    codes: np.ndarray, factors: np.ndarray, n_votes: int, rng: np.random.Generator, batch: int = FACTOR_VAE_BATCH
) -> tuple[np.ndarray, np.ndarray]:
    """(voted dimension, fixed factor) of n_votes votes: each fixes a random factor at a random value it takes,
    draws `batch` codes of images with that value, and votes for the active dimension of least variance after
    each dimension is divided by its standard deviation over all the data (Kim & Mnih 2018). The dimension is
    an index into active_dims(codes); ValueError when none is active."""
    codes, factors = np.asarray(codes, dtype=np.float64), np.asarray(factors)
    active = active_dims(codes)
    if active.size == 0:
        raise ValueError("no code dimension varies across the data: there is nothing to vote with")
    scaled = codes[:, active] / codes[:, active].std(axis=0)
    fixed = rng.integers(factors.shape[1], size=n_votes)
    groups = {
        (k, value): np.flatnonzero(factors[:, k] == value)
        for k in range(factors.shape[1])
        for value in np.unique(factors[:, k])
    }
    values = [np.unique(factors[:, k]) for k in range(factors.shape[1])]
    dims = np.empty(n_votes, dtype=np.int64)
    for i, k in enumerate(fixed):
        value = values[k][rng.integers(len(values[k]))]
        members = groups[(int(k), value)]
        chosen = members[rng.integers(len(members), size=batch)]
        dims[i] = int(np.argmin(scaled[chosen].var(axis=0)))
    return dims, fixed


def factor_vae_score(
    codes: np.ndarray,
    factors: np.ndarray,
    *,
    train_votes: int = FACTOR_VAE_TRAIN_VOTES,
    eval_votes: int = FACTOR_VAE_EVAL_VOTES,
    seed: int = FACTOR_VAE_SEED,
) -> float:
    """The FactorVAE score: the accuracy, on fresh votes, of the majority-vote classifier (each dimension
    predicts the factor it voted for most often) built from train_votes. 0 when no dimension is active."""
    if active_dims(codes).size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    n_factors = np.asarray(factors).shape[1]
    dims, fixed = factor_vae_votes(codes, factors, train_votes, rng)
    table = np.zeros((int(dims.max()) + 1 if dims.size else 1, n_factors), dtype=np.int64)
    np.add.at(table, (dims, fixed), 1)
    predicted = table.argmax(axis=1)
    eval_dims, eval_fixed = factor_vae_votes(codes, factors, eval_votes, rng)
    known = eval_dims < len(predicted)  # a dimension that never voted in training predicts nothing: a miss
    hits = known & (predicted[np.minimum(eval_dims, len(predicted) - 1)] == eval_fixed)
    return float(hits.mean())


@dataclass(frozen=True)
class DisentanglementReport:
    """A model's disentanglement numbers on the whole sprites grid (train and test: the factors' own sample)."""

    factor_names: tuple[str, ...]
    normalized_mi: tuple[tuple[float, ...], ...]  # (F, D): I(v_k; z_j) / H(v_k)
    mig_per_factor: tuple[float, ...]
    mig: float
    factor_vae_score: float
    active_dims: int  # dimensions whose posterior means vary (vocabulary.ACTIVE_UNIT_VARIANCE)
    n_images: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out["factor_names"] = list(self.factor_names)
        out["normalized_mi"] = [list(row) for row in self.normalized_mi]
        out["mig_per_factor"] = list(self.mig_per_factor)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> DisentanglementReport:
        known = {f.name for f in fields(cls)}
        if set(values) != known:
            raise ValueError(f"a disentanglement report has the fields {sorted(known)}, got {sorted(values)}")
        return cls(
            factor_names=tuple(str(name) for name in values["factor_names"]),
            normalized_mi=tuple(tuple(float(v) for v in row) for row in values["normalized_mi"]),
            mig_per_factor=tuple(float(v) for v in values["mig_per_factor"]),
            mig=float(values["mig"]),
            factor_vae_score=float(values["factor_vae_score"]),
            active_dims=int(values["active_dims"]),
            n_images=int(values["n_images"]),
        )

    def matrix(self) -> np.ndarray:
        return np.asarray(self.normalized_mi, dtype=np.float64)


def report_from_codes(codes: np.ndarray, factors: np.ndarray, factor_names: tuple[str, ...]) -> DisentanglementReport:
    """Every number of a DisentanglementReport from codes (N, D) and the factors (N, F) of the same images."""
    matrix = normalized_mi_matrix(codes, factors)
    gaps = mig_per_factor(matrix)
    return DisentanglementReport(
        factor_names=tuple(factor_names),
        normalized_mi=tuple(tuple(float(v) for v in row) for row in matrix),
        mig_per_factor=tuple(float(g) for g in gaps),
        mig=float(gaps.mean()),
        factor_vae_score=factor_vae_score(codes, factors),
        active_dims=int(active_dims(codes).size),
        n_images=len(codes),
    )


# --- the zoo's models side by side, and what they say about the claim ---------------------------------------------


@dataclass(frozen=True)
class ModelPoint:
    """One sprites model: its β, its test-set terms (nats per image) and its disentanglement numbers."""

    name: str
    kind: str  # "vae" or "tcvae"
    beta: float
    recon: float  # E_q[-log p(x|z)] on the test split
    kl: float
    kl_per_dim: tuple[float, ...]
    report: DisentanglementReport

    def dims_by_kl(self) -> list[int]:
        """The latent dimensions, most informative (largest mean KL) first."""
        return sorted(range(len(self.kl_per_dim)), key=lambda d: -self.kl_per_dim[d])


@dataclass(frozen=True)
class ClaimCheck:
    """The notes' claim, "a larger β gives more independent, more interpretable dimensions", against the plain
    VAEs (β varied alone) and the β-TCVAEs of the zoo."""

    vaes: tuple[ModelPoint, ...]  # kind "vae", by β
    tcvaes: tuple[ModelPoint, ...]
    mig_rises_with_beta: bool  # MIG grows at every step up in β among the VAEs
    factor_vae_rises_with_beta: bool
    largest_beta_beats_smallest: bool  # the largest-β VAE's MIG above the β = smallest one's
    best: ModelPoint  # the highest MIG of all
    recon_cost: float  # reconstruction of the largest-β VAE minus the smallest-β one's, nats per image

    @property
    def holds(self) -> bool:
        """The claim holds here when MIG and the FactorVAE score both rise with β at every step."""
        return self.mig_rises_with_beta and self.factor_vae_rises_with_beta


def check_claim(points: list[ModelPoint]) -> ClaimCheck:
    """A ClaimCheck of the points; ValueError without at least two VAEs of different β to compare."""
    vaes = tuple(sorted((p for p in points if p.kind == "vae"), key=lambda p: p.beta))
    if len({p.beta for p in vaes}) < 2:
        raise ValueError("the claim needs at least two VAEs with different β")
    migs = [p.report.mig for p in vaes]
    scores = [p.report.factor_vae_score for p in vaes]
    return ClaimCheck(
        vaes=vaes,
        tcvaes=tuple(sorted((p for p in points if p.kind == "tcvae"), key=lambda p: p.beta)),
        mig_rises_with_beta=all(b > a for a, b in itertools.pairwise(migs)),
        factor_vae_rises_with_beta=all(b > a for a, b in itertools.pairwise(scores)),
        largest_beta_beats_smallest=migs[-1] > migs[0],
        best=max(points, key=lambda p: p.report.mig),
        recon_cost=vaes[-1].recon - vaes[0].recon,
    )


def extra_point_configs(reference_model, reference_train, kind: str, beta: float, epochs: int, device: str = "cpu"):
    """Configs for one more model on the page: the reference's body and recipe with the kind and β asked for, one
    torch thread on CPU (so a training session leaves cores to the others), no per-epoch test evaluation."""
    import dataclasses

    if kind not in LESSON_KINDS:
        raise ValueError(f"kind must be one of {', '.join(LESSON_KINDS)}; got {kind!r}")
    if beta < 0:
        raise ValueError(f"β must be non-negative, got {beta}")
    tc_size = reference_model.tc_dataset_size
    if kind == "tcvae" and not tc_size:
        from vae_core.engine.sprites import SPRITE_COUNT, SPRITES_TEST_FRACTION

        tc_size = SPRITE_COUNT - round(SPRITE_COUNT * SPRITES_TEST_FRACTION)
    model_config = dataclasses.replace(
        reference_model, kind=kind, beta=float(beta), tc_dataset_size=tc_size if kind == "tcvae" else 0
    )
    train_config = dataclasses.replace(
        reference_train,
        epochs=int(epochs),
        device=device,
        num_threads=1 if device == "cpu" else 0,
        eval_each_epoch=False,
    )
    return model_config, train_config


def disentangled_reference(n_factors: int, latent_dim: int) -> np.ndarray:
    """What a perfectly disentangled model's normalised-MI map looks like: factor k wholly in dimension k, and
    nothing anywhere else (one bright cell per row)."""
    reference = np.zeros((n_factors, latent_dim))
    reference[np.arange(min(n_factors, latent_dim)), np.arange(min(n_factors, latent_dim))] = 1.0
    return reference


# --- models on the sprites (torch from here on) ------------------------------------------------------------------


def all_sprites():
    """(images (N, 1, 32, 32), factors (N, F) int64) of the whole grid, train then test, as the engine loads them."""
    import torch

    from vae_core.engine.data import load_dataset

    parts = [load_dataset("sprites", split) for split in ("train", "test")]
    images = torch.cat([p.images for p in parts])
    factors = torch.cat([p.factors for p in parts if p.factors is not None])
    return images, factors


def posterior_means(model, images, batch_size: int = 2048) -> np.ndarray:
    """The model's deterministic codes (posterior means) of images, (N, D), computed in batches without grad."""
    import torch

    model.eval()
    with torch.no_grad():
        return torch.cat([model.embed(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]).numpy()


def model_report(model) -> DisentanglementReport:
    """A model's DisentanglementReport on every sprite (about a second for the zoo's MLPs)."""
    from vae_core.engine.sprites import FACTOR_NAMES

    images, factors = all_sprites()
    return report_from_codes(posterior_means(model, images), factors.numpy(), FACTOR_NAMES)


def traversal_images(model, image, dims: list[int], steps: int, span: float = TRAVERSAL_SPAN) -> np.ndarray:
    """Latent traversals: for each dimension d in dims, the image's code (posterior mean) with z_d swept over
    `steps` values from -span to +span (prior standard deviations), decoded: (len(dims), steps, H, W) in [0, 1]."""
    import torch

    model.eval()
    with torch.no_grad():
        code = model.embed(image.unsqueeze(0))[0]
        grid = torch.linspace(-span, span, steps)
        codes = code.repeat(len(dims), steps, 1)
        for row, d in enumerate(dims):
            codes[row, :, d] = grid
        decoded = model.decode(codes.flatten(0, 1))
    return decoded.view(len(dims), steps, *decoded.shape[-2:]).numpy()
