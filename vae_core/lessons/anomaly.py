"""Anomaly detection with a VAE: per-image scores, out-of-distribution sets, ROC curves and one remedy.

A model trained on one data set gives every image a score; an image whose score is unusually high for the
training distribution is flagged. The scores here, all "higher = more anomalous", in nats per image:

- `neg_elbo`: -ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z)), the upper bound on -log p(x);
- `iw_nll`: -IW_K, the importance-weighted estimate of -log p(x) (Burda et al. 2015);
- `recon`: the VAE's reconstruction term E_q[-log p(x|z)] alone;
- `ae_recon`: an autoencoder's reconstruction error -log p(x | x_hat), for contrast (no likelihood);
- `likelihood_ratio`: iw_nll minus the exact -log p_ref(x) of an independent-pixel Bernoulli fitted to the
  training set (a likelihood ratio against a simpler model, as in Ren et al. 2019 and Schirrmeister et al. 2020);
- `complexity_corrected`: iw_nll minus L(x), the image's PNG code length in nats (Serrà et al. 2020).

The last two are the remedy for the pitfall of Nalisnick et al. (2019): a likelihood model may give
out-of-distribution images *higher* likelihood than its own test set when they are simpler (fewer ink
pixels, lower entropy). Both subtract what any simple model would already explain.

Everything is seeded and runs under no_grad; nothing happens at import time. Scores are computed on the images
as the model is measured on them (`data.measured_inputs`: one fixed binarisation for binarised models).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from vae_core.engine import limits

if TYPE_CHECKING:
    from torch import Tensor

    from vae_core.engine.data import FitImages
    from vae_core.engine.models import VAE, LatentModel
    from vae_core.engine.protocol import DataProtocol
    from vae_core.engine.registry import ModelEntry

DEFAULT_IW_SAMPLES = 100
DEFAULT_ELBO_SAMPLES = 10  # posterior draws per image for -ELBO's reconstruction term
REFERENCE_SMOOTHING = 1.0  # Laplace: each pixel's probability is (ink + 1) / (N + 2), so never 0 or 1
NATS_PER_BIT = math.log(2.0)

# Data sets that are each other's out-of-distribution set (same 28x28 shape).
CROSS_DATASET_OOD = {"mnist": "fashion-mnist", "fashion-mnist": "mnist"}


# --- what each score is ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreKind:
    key: str  # the field of ImageScores that holds it
    short: str  # a short column name, true under every protocol (score_labels gives the full name)
    needs_ae: bool = False


SCORE_KINDS = (
    ScoreKind("neg_elbo", "bound"),
    ScoreKind("iw_nll", "IW"),
    ScoreKind("recon", "VAE recon."),
    ScoreKind("ae_recon", "AE recon.", needs_ae=True),
    ScoreKind("likelihood_ratio", "ratio"),
    ScoreKind("complexity_corrected", "PNG-corrected"),
)
SCORE_KEYS = tuple(kind.key for kind in SCORE_KINDS)


def score_kind(key: str) -> ScoreKind:
    for kind in SCORE_KINDS:
        if kind.key == key:
            return kind
    raise ValueError(f"unknown score {key!r}; known: {', '.join(SCORE_KEYS)}")


@dataclass(frozen=True)
class ImageScores:
    """Per-image scores of one set of images under one model, each (N,) float64 in nats; higher = more anomalous.

    The parts the corrected scores are built from are kept too: `reference_nll` (-log p_ref(x) under the
    independent-pixel model) and `code_length` (PNG size in nats).
    """

    neg_elbo: np.ndarray
    iw_nll: np.ndarray
    recon: np.ndarray
    kl: np.ndarray
    reference_nll: np.ndarray
    code_length: np.ndarray
    ink: np.ndarray  # mean pixel value of each image as measured (share of pixels on, for binary images)
    ae_recon: np.ndarray | None = None
    iw_samples: int = 0

    def __post_init__(self) -> None:
        n = len(self.neg_elbo)
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.shape != (n,):
                raise ValueError(f"{f.name} has shape {value.shape}; every score must be ({n},)")

    def __len__(self) -> int:
        return len(self.neg_elbo)

    @property
    def likelihood_ratio(self) -> np.ndarray:
        """-log p(x) + log p_ref(x): how much worse the VAE explains x than independent pixels do."""
        return self.iw_nll - self.reference_nll

    @property
    def complexity_corrected(self) -> np.ndarray:
        """S(x) = -log p(x) - L(x) (Serrà et al. 2020), L the PNG code length in nats."""
        return self.iw_nll - self.code_length

    def score(self, key: str) -> np.ndarray | None:
        """The scores named by key (a SCORE_KEYS entry); None when this set has none (ae_recon without an AE)."""
        score_kind(key)
        return getattr(self, key)

    def values(self, key: str) -> np.ndarray:
        """The scores named by key; an error when this set has none."""
        scores = self.score(key)
        if scores is None:
            raise ValueError(f"no {key} scores here (no autoencoder was given)")
        return scores

    def available(self) -> tuple[str, ...]:
        return tuple(key for key in SCORE_KEYS if self.score(key) is not None)


# --- the independent-pixel reference model ---------------------------------------------------------------------


@dataclass(frozen=True)
class IndependentBernoulli:
    """p_ref(x) = prod_pixels p_i^x_i (1 - p_i)^(1 - x_i): the simplest density of binary images.

    Fitted by maximum likelihood with Laplace smoothing. For grey levels the same formula is a cross-entropy.
    """

    probs: Tensor  # (C, H, W) in (0, 1)

    @classmethod
    def fit(cls, images: Tensor, smoothing: float = REFERENCE_SMOOTHING) -> IndependentBernoulli:
        """Fit to images in [0, 1]: for binarised training, E[binarised pixel] = its grey level, so the grey
        means are the maximum-likelihood estimate under dynamic binarisation too."""
        import torch

        images = images.double()
        probs = (images.sum(0) + smoothing) / (images.shape[0] + 2 * smoothing)
        return cls(probs.clamp(1e-12, 1 - 1e-12).to(torch.float64))

    def nll(self, images: Tensor) -> Tensor:
        """-log p_ref(x) per image (N,), float64, in nats (exact for binary x)."""
        import torch

        x = images.double()
        if tuple(x.shape[1:]) != tuple(self.probs.shape):
            raise ValueError(f"images shaped {tuple(x.shape[1:])}, reference fitted on {tuple(self.probs.shape)}")
        log_p = torch.log(self.probs)
        log_1mp = torch.log1p(-self.probs)
        return -(x * log_p + (1 - x) * log_1mp).flatten(1).sum(1)


# --- a generic compressor's code length --------------------------------------------------------------------------


def png_code_length(images: Tensor) -> np.ndarray:
    """Each image's size as a PNG (Pillow, maximum compression), in nats: L(x) of Serrà et al. (2020).

    Binary images are written as 1-bit PNGs, others as 8-bit grey. The file's constant overhead (signature,
    headers) shifts every image's L by the same amount, which changes no ranking and so no AUC.
    """
    from PIL import Image

    array = images.detach().cpu().numpy()
    if array.ndim != 4 or array.shape[1] != 1:
        raise ValueError(f"expected single-channel images (N, 1, H, W), got {array.shape}")
    binary = bool(np.isin(array, (0.0, 1.0)).all())
    lengths = np.empty(len(array), dtype=np.float64)
    for i, image in enumerate(array[:, 0]):
        if binary:
            pil = Image.fromarray(image.astype(bool))
        else:
            pil = Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L")
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG", optimize=True)
        lengths[i] = 8 * buffer.tell() * NATS_PER_BIT
    return lengths


# --- per-image scores ------------------------------------------------------------------------------------------


def ae_reconstruction_error(ae: LatentModel, x: Tensor) -> Tensor:
    """An autoencoder's -log p(x | x_hat) per image (B,): its reconstruction error in its own likelihood."""
    return ae.reconstruction_nll(ae.decode_params(ae.embed(x)), x)


def score_images(
    model: VAE,
    images: Tensor,
    reference: IndependentBernoulli,
    *,
    ae: LatentModel | None = None,
    iw_samples: int = DEFAULT_IW_SAMPLES,
    elbo_samples: int = DEFAULT_ELBO_SAMPLES,
    batch_size: int = 250,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ImageScores:
    """Every score for every image, batched, seeded, under no_grad; the models' modes are restored after.

    images: as the model is measured on them (see `measured_inputs`). progress(done, total) after each batch.
    """
    import torch

    from vae_core.engine.losses import iw_log_likelihood

    if not model.config.is_variational:
        raise ValueError(f"anomaly scores need a VAE (a likelihood); got a {model.config.kind!r} model")
    if not 1 <= iw_samples <= limits.MAX_ANOMALY_IW_SAMPLES:
        raise ValueError(f"iw_samples must lie in 1..{limits.MAX_ANOMALY_IW_SAMPLES}, got {iw_samples}")
    if elbo_samples < 1:
        raise ValueError(f"elbo_samples must be at least 1, got {elbo_samples}")
    if ae is not None and ae.config.input_shape != model.config.input_shape:
        raise ValueError("the autoencoder and the VAE must take images of the same shape")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    modes = [(m, m.training) for m in (model, ae) if m is not None]
    parts: dict[str, list[Tensor]] = {"recon": [], "kl": [], "iw": [], "ae": []}
    n = images.shape[0]
    try:
        for m, _ in modes:
            m.eval()
        with torch.no_grad():
            for start in range(0, n, batch_size):
                xb = images[start : start + batch_size].to(device)
                # One generator for both, in this order: the ELBO's draws, then the importance samples.
                terms = model.loss(xb, beta=1.0, n_samples=elbo_samples, generator=generator, reduction="none")
                parts["recon"].append(terms.recon.double().cpu())
                parts["kl"].append(terms.kl.double().cpu())
                log_weights = model.iw_log_weights(xb, k=iw_samples, generator=generator)
                parts["iw"].append(-iw_log_likelihood(log_weights).double().cpu())
                if ae is not None:
                    parts["ae"].append(ae_reconstruction_error(ae, xb).double().cpu())
                if progress is not None:
                    progress(min(start + batch_size, n), n)
    finally:
        for m, mode in modes:
            m.train(mode)
    recon_np, kl_np = torch.cat(parts["recon"]).numpy(), torch.cat(parts["kl"]).numpy()
    return ImageScores(
        neg_elbo=recon_np + kl_np,
        iw_nll=torch.cat(parts["iw"]).numpy(),
        recon=recon_np,
        kl=kl_np,
        reference_nll=reference.nll(images).numpy(),
        code_length=png_code_length(images),
        ink=ink_fraction(images),
        ae_recon=torch.cat(parts["ae"]).numpy() if ae is not None else None,
        iw_samples=iw_samples,
    )


# --- out-of-distribution sets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSet:
    """A named set of grey-level images in [0, 1] (before the model's measurement protocol is applied)."""

    key: str  # stable identifier, e.g. "in-distribution", "fashion-mnist", "inverted"
    label: str  # what a reader sees
    images: Tensor  # (N, C, H, W)
    in_distribution: bool = False


SYNTHETIC_OOD = ("uniform-noise", "bernoulli-noise", "inverted", "rotated", "flipped")
SYNTHETIC_SEED_BASE = 1_000_003  # far from EVAL_BINARIZATION_SEED and small training seeds (see synthetic_ood)
SYNTHETIC_LABELS = {
    "uniform-noise": "uniform noise",
    "bernoulli-noise": "Bernoulli noise (same ink as the test set)",
    "inverted": "inverted test images",
    "rotated": "test images rotated 90°",
    "flipped": "test images flipped left–right",
}


def synthetic_ood(key: str, test_images: Tensor, seed: int = 0) -> Tensor:
    """One synthetic out-of-distribution set built from the in-distribution test images (same N and shape).

    uniform-noise: pixels ~ U(0, 1); bernoulli-noise: binary pixels ~ Bernoulli(mean test intensity), as much ink
    as a test image on average but no shape; inverted: 1 - x; rotated: 90° anticlockwise; flipped: left-right.
    The noise sets are seeded by (seed, key), so each is the same whatever else is built, and never by the seed
    of the evaluation binarisation: torch.bernoulli with a generator in the same state as the one torch.rand drew
    the noise from reuses its uniforms, so binarising U(0, 1) noise made with seed 0 at seed 0 gives blank images.
    """
    import torch

    if key not in SYNTHETIC_OOD:
        raise ValueError(f"unknown synthetic set {key!r}; known: {', '.join(SYNTHETIC_OOD)}")
    generator = torch.Generator().manual_seed(
        SYNTHETIC_SEED_BASE + seed * len(SYNTHETIC_OOD) + SYNTHETIC_OOD.index(key)
    )
    if key == "uniform-noise":
        return torch.rand(test_images.shape, generator=generator)
    if key == "bernoulli-noise":
        ink = float(test_images.mean())
        return torch.bernoulli(torch.full(test_images.shape, ink), generator=generator)
    if key == "inverted":
        return 1.0 - test_images
    if key == "rotated":
        return torch.rot90(test_images, 1, dims=(-2, -1)).contiguous()
    return torch.flip(test_images, dims=(-1,)).contiguous()


def first_n(images: Tensor, n: int | None) -> Tensor:
    return images if n is None or n >= images.shape[0] else images[:n]


IN_DISTRIBUTION = "in-distribution"  # the key of a study's own test set


def set_keys(dataset: str, *, include_cross: bool = True, include_synthetic: bool = True) -> list[str]:
    """The keys of a study's sets, in order: the test set, the other 28x28 data set (when its files are here),
    then the synthetic sets."""
    from vae_core.engine.data import has_split

    keys = [IN_DISTRIBUTION]
    other = CROSS_DATASET_OOD.get(dataset)
    if include_cross and other is not None and has_split(other, "test"):
        keys.append(other)
    return keys + (list(SYNTHETIC_OOD) if include_synthetic else [])


# Without the training split, the reference is fitted to the test images after these (the sets take the first N).
REFERENCE_HELD_OUT = 5000


def reference_images(dataset: str) -> FitImages:
    """The images the independent-pixel reference is fitted to: the training split, or, before MNIST's or
    Fashion-MNIST's is fetched, the test images after the first REFERENCE_HELD_OUT."""
    from vae_core.engine.data import fitting_images

    return fitting_images(dataset, held_out=REFERENCE_HELD_OUT)


def build_set(dataset: str, key: str, *, subset: int | None = None, seed: int = 0) -> ImageSet:
    """One set of a study of `dataset` (see set_keys); subset: the first N images (None: all)."""
    from vae_core.engine.data import load_dataset

    test = first_n(load_dataset(dataset, "test").images, subset)
    if key == IN_DISTRIBUTION:
        return ImageSet(key, f"{dataset} test set", test, in_distribution=True)
    if key in SYNTHETIC_OOD:
        return ImageSet(key, SYNTHETIC_LABELS[key], synthetic_ood(key, test, seed))
    if key in CROSS_DATASET_OOD and key != dataset:
        return ImageSet(key, f"{key} test set", first_n(load_dataset(key, "test").images, subset))
    raise ValueError(f"no set {key!r} for {dataset}; known: {', '.join(set_keys(dataset))}")


def anomaly_sets(
    dataset: str,
    *,
    subset: int | None = None,
    seed: int = 0,
    include_cross: bool = True,
    include_synthetic: bool = True,
) -> list[ImageSet]:
    """The in-distribution test set first, then its out-of-distribution sets: the other 28x28 data set's test set
    (when its files are available) and every synthetic set. subset: the first N images of each (None: all)."""
    return [
        build_set(dataset, key, subset=subset, seed=seed)
        for key in set_keys(dataset, include_cross=include_cross, include_synthetic=include_synthetic)
    ]


@dataclass(frozen=True)
class ScoredSet:
    key: str
    label: str
    in_distribution: bool
    scores: ImageScores


def score_set(
    model: VAE,
    image_set: ImageSet,
    protocol: DataProtocol,
    reference: IndependentBernoulli,
    *,
    ae: LatentModel | None = None,
    iw_samples: int = DEFAULT_IW_SAMPLES,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> ScoredSet:
    """Score one set as the model is measured on it (`measured_inputs`: one fixed binarisation for binarised
    models, with the same seed for every set)."""
    from vae_core.engine.data import measured_inputs

    inputs = measured_inputs(image_set.images, protocol)
    scores = score_images(model, inputs, reference, ae=ae, iw_samples=iw_samples, seed=seed, progress=progress)
    return ScoredSet(image_set.key, image_set.label, image_set.in_distribution, scores)


def score_sets(
    model: VAE,
    sets: list[ImageSet],
    protocol: DataProtocol,
    reference: IndependentBernoulli,
    *,
    ae: LatentModel | None = None,
    iw_samples: int = DEFAULT_IW_SAMPLES,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> list[ScoredSet]:
    """score_set for every set; progress(fraction done) after each batch."""
    total = sum(s.images.shape[0] for s in sets)
    done_before = 0
    scored = []
    for image_set in sets:

        def report(done: int, _n: int, offset: int = done_before) -> None:
            if progress is not None:
                progress((offset + done) / total)

        scored.append(
            score_set(model, image_set, protocol, reference, ae=ae, iw_samples=iw_samples, seed=seed, progress=report)
        )
        done_before += image_set.images.shape[0]
    return scored


# --- ROC, AUC, thresholds, percentiles -------------------------------------------------------------------------


@dataclass(frozen=True)
class RocCurve:
    """The ROC curve with out-of-distribution as the positive class, as scikit-learn's roc_curve draws it
    (drop_intermediate=True), and its area as roc_auc_score gives it.

    AUC is the probability that a random out-of-distribution image scores higher than a random test image
    (ties count half): 1 separates perfectly, 0.5 is chance, below 0.5 the score prefers the outliers.
    """

    fpr: np.ndarray  # fraction of in-distribution images flagged, per threshold
    tpr: np.ndarray  # detection rate: fraction of out-of-distribution images flagged
    thresholds: np.ndarray  # flag when score >= threshold
    auc: float


def labels_and_scores(in_scores: np.ndarray, ood_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) with label 1 for out-of-distribution, as scikit-learn's ROC functions take them."""
    in_scores, ood_scores = np.asarray(in_scores, np.float64), np.asarray(ood_scores, np.float64)
    labels = np.concatenate([np.zeros(len(in_scores)), np.ones(len(ood_scores))])
    return labels, np.concatenate([in_scores, ood_scores])


def roc(in_scores: np.ndarray, ood_scores: np.ndarray) -> RocCurve:
    """scikit-learn's binary roc_curve and roc_auc_score, step for step in NumPy (tests/lessons/test_anomaly.py
    compares the two): the page computes dozens of curves per rerun, and scikit-learn's input checks cost
    about 10 ms each, which made every rerun of the anomaly page wait about a second."""
    labels, scores = labels_and_scores(in_scores, ood_scores)
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite")
    if len(np.unique(labels)) < 2:
        raise ValueError("a ROC curve needs both in- and out-of-distribution scores")
    order = np.argsort(-scores, kind="stable")  # descending; the order within ties moves no point of the curve
    scores, labels = scores[order], labels[order]
    # the last index of each run of equal scores, then the end of the curve
    threshold_idxs = np.r_[np.nonzero(np.diff(scores))[0], labels.size - 1]
    tps = np.cumsum(labels, dtype=np.float64)[threshold_idxs]
    fps = 1 + threshold_idxs.astype(np.float64) - tps
    thresholds = scores[threshold_idxs]
    if fps.shape[0] > 2:  # drop points collinear with their neighbours, which no plotted curve or area needs
        keep = np.nonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]  # the curve starts at (0, 0), with threshold +inf
    thresholds = np.r_[np.inf, thresholds]
    fpr, tpr = fps / fps[-1], tps / tps[-1]
    area = float((np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0).sum())  # the trapezoid rule, as numpy's trapezoid
    return RocCurve(fpr, tpr, thresholds, area)


@dataclass(frozen=True)
class ThresholdRates:
    threshold: float
    false_positive_rate: float  # fraction of in-distribution images with score >= threshold
    detection_rate: float  # fraction of out-of-distribution images with score >= threshold


def rates_at_threshold(in_scores: np.ndarray, ood_scores: np.ndarray, threshold: float) -> ThresholdRates:
    """Flag every image whose score is >= threshold (the convention of roc_curve)."""
    return ThresholdRates(
        float(threshold),
        float(np.mean(np.asarray(in_scores) >= threshold)),
        float(np.mean(np.asarray(ood_scores) >= threshold)),
    )


def threshold_for_fpr(in_scores: np.ndarray, false_positive_rate: float) -> float:
    """The threshold that flags (about) the given fraction of in-distribution images: their (1 - rate) quantile."""
    if not 0.0 <= false_positive_rate <= 1.0:
        raise ValueError(f"false_positive_rate must lie in [0, 1], got {false_positive_rate}")
    return float(np.quantile(np.asarray(in_scores, np.float64), 1.0 - false_positive_rate))


def percentile_in(score: float, scores: np.ndarray) -> float:
    """The percentage of scores in the set strictly below score, plus half the ties (0 lowest ... 100 highest)."""
    scores = np.asarray(scores, np.float64)
    if scores.size == 0:
        raise ValueError("an empty set has no percentiles")
    below = np.count_nonzero(scores < score)
    ties = np.count_nonzero(scores == score)
    return 100.0 * (below + 0.5 * ties) / scores.size


@dataclass(frozen=True)
class DetectionResult:
    """One out-of-distribution set against the in-distribution test set: the AUC of every available score."""

    ood_key: str
    ood_label: str
    auc: dict[str, float]  # score key -> AUC
    median_shift: dict[str, float]  # score key -> median(ood) - median(in), nats: which way the set lies


def detection_results(scored: list[ScoredSet]) -> list[DetectionResult]:
    """AUC per score for each out-of-distribution set against the (first) in-distribution set."""
    inside = next(s for s in scored if s.in_distribution)
    results = []
    for other in scored:
        if other.in_distribution:
            continue
        keys = [k for k in inside.scores.available() if k in other.scores.available()]
        auc = {k: roc(inside.scores.values(k), other.scores.values(k)).auc for k in keys}
        shift = {k: float(np.median(other.scores.values(k)) - np.median(inside.scores.values(k))) for k in keys}
        results.append(DetectionResult(other.key, other.label, auc, shift))
    return results


# --- one model's whole study -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnomalyStudy:
    """Every set scored under one model, and the AUC of every score per out-of-distribution set."""

    dataset: str  # the model's training data set (the in-distribution test set is its test split)
    protocol: DataProtocol
    iw_samples: int
    subset: int | None  # images per set (first N of each); None: whole test sets
    seed: int
    sets: list[ScoredSet]
    results: list[DetectionResult]

    @property
    def inside(self) -> ScoredSet:
        return next(s for s in self.sets if s.in_distribution)

    def scored(self, key: str) -> ScoredSet:
        return next(s for s in self.sets if s.key == key)

    def result(self, ood_key: str) -> DetectionResult:
        return next(r for r in self.results if r.ood_key == ood_key)


def run_study(
    model: VAE,
    protocol: DataProtocol,
    dataset: str,
    *,
    ae: LatentModel | None = None,
    subset: int | None = None,
    iw_samples: int = DEFAULT_IW_SAMPLES,
    seed: int = 0,
    include_cross: bool = True,
    include_synthetic: bool = True,
    progress: Callable[[float], None] | None = None,
) -> AnomalyStudy:
    """Build the sets for `dataset`, fit the independent-pixel reference (reference_images), score, compare."""
    from vae_core.engine.data import load_dataset

    if model.config.input_shape != load_dataset(dataset, "test").input_shape:
        raise ValueError(f"the model takes images shaped {model.config.input_shape}, not {dataset}'s")
    reference = IndependentBernoulli.fit(reference_images(dataset).images)
    sets = anomaly_sets(
        dataset, subset=subset, seed=seed, include_cross=include_cross, include_synthetic=include_synthetic
    )
    scored = score_sets(model, sets, protocol, reference, ae=ae, iw_samples=iw_samples, seed=seed, progress=progress)
    return AnomalyStudy(dataset, protocol, iw_samples, subset, seed, scored, detection_results(scored))


# --- what the page offers, and the models it opens with ---------------------------------------------------------
# One definition for the page and for the cache's warm-up (vae_core.serving.anomaly_scores), which scores every
# setting offered here so that none is scored while a class waits.

SUBSET_CHOICES = (250, 500, 1000, 2000)  # images per set; each set's images x K is bounded (MAX_ANOMALY_SET_DECODES)
DEFAULT_SUBSET = 500
IW_CHOICES = (10, 50, 100)  # K above 100 costs memory (limits.MAX_ANOMALY_SET_DECODES) and moves no AUC
DEFAULT_IW = 50
STUDY_SEED = 0  # every set of the page is built, binarised and scored with this seed


def subset_choices(n_test: int) -> list[int]:
    """Images per set the page offers: the choices under the test set's size, then the whole test set (on
    digits, 360 test images, "500" would score 360)."""
    return [c for c in SUBSET_CHOICES if c < n_test] + [n_test]


def default_subset(n_test: int) -> int:
    return min(DEFAULT_SUBSET, n_test)


def held_iw(subset: int, iw_samples: int) -> int:
    """K as scored: the largest choice up to iw_samples whose images x K stays within the page's bound."""
    allowed = [k for k in IW_CHOICES if subset * k <= limits.MAX_ANOMALY_SET_DECODES and k <= iw_samples]
    return max(allowed) if allowed else min(IW_CHOICES)


def offered_settings(n_test: int) -> list[tuple[int, int]]:
    """Every (images per set, K) the page can score, after held_iw, in the order a warm-up should score them:
    the defaults first, then the cheapest settings before the costly ones."""
    settings = {(subset, held_iw(subset, k)) for subset in subset_choices(n_test) for k in IW_CHOICES}
    first = (default_subset(n_test), held_iw(default_subset(n_test), DEFAULT_IW))
    return [first, *sorted(settings - {first}, key=lambda s: (s[0] * s[1], s))]


def page_models(entries: list[ModelEntry], picked: ModelEntry | None) -> tuple[ModelEntry, ModelEntry | None] | None:
    """The VAE and the autoencoder the page opens with, among a data set's models (conditional ones left out):
    the sidebar's model when it is a VAE, else a 2-D family VAE, else the first VAE; and its counterpart AE, else
    the first AE. None when there is no VAE."""
    from vae_core.engine.registry import counterpart
    from vae_core.engine.vocabulary import ROLE_FAMILY_2D

    entries = [e for e in entries if e.info.model_config.kind != "cvae"]
    vaes = [e for e in entries if e.is_variational]
    aes = [e for e in entries if not e.is_variational]
    if not vaes:
        return None
    vae = ([picked] if picked in vaes else []) + [e for e in vaes if e.role == ROLE_FAMILY_2D] + vaes
    return vae[0], (counterpart(entries, vae[0]) or aes[0]) if aes else None


def direction_models(entries: list[ModelEntry]) -> dict[str, ModelEntry]:
    """Section "both directions": the 2-D family VAE of MNIST and of Fashion-MNIST, when both they and both data
    sets' files are here (empty otherwise)."""
    from vae_core.engine.data import INPUT_SHAPES, is_available
    from vae_core.engine.vocabulary import ROLE_FAMILY_2D

    chosen = {}
    for dataset in DIRECTION_PAIR:
        family = [e for e in entries if e.dataset == dataset and e.kind == "vae" and e.role == ROLE_FAMILY_2D]
        if family and is_available(dataset) and tuple(family[0].input_shape) == INPUT_SHAPES[dataset]:
            chosen[dataset] = family[0]
    return chosen if len(chosen) == len(DIRECTION_PAIR) else {}


DIRECTION_PAIR = ("mnist", "fashion-mnist")


# --- what the numbers say, in words built from them -------------------------------------------------------------


def auc_sentence(auc: float, score_label: str, in_label: str, ood_label: str) -> str:
    """One sentence reading an AUC: which set the score ranks higher, and how often (from the number alone)."""
    if auc >= 0.5:
        return (
            f"With {score_label}, a random image of the {ood_label} scores higher (more anomalous) than a random "
            f"image of the {in_label} in {100 * auc:.0f}% of pairs (AUC {auc:.3f})."
        )
    return (
        f"With {score_label}, a random image of the {ood_label} scores *lower* (looks more typical) than a "
        f"random image of the {in_label} in {100 * (1 - auc):.0f}% of pairs (AUC {auc:.3f}, below the 0.5 of "
        f"a coin toss): the model finds these outliers more probable than its own test set."
    )


def ink_fraction(images: Tensor) -> np.ndarray:
    """Mean pixel intensity per image (N,): the share of ink (for binary images, of pixels that are on)."""
    return images.detach().double().flatten(1).mean(1).cpu().numpy()


def pooled_correlation(study: AnomalyStudy, a: str, b: str) -> float:
    """Pearson's r between two per-image quantities (ImageScores fields or properties), pooled over every set."""
    xs = np.concatenate([getattr(s.scores, a) for s in study.sets])
    ys = np.concatenate([getattr(s.scores, b) for s in study.sets])
    return float(np.corrcoef(xs, ys)[0, 1])


# PNG size alone telling a set from the test set by less than this (|AUC − 0.5|) for every set: L(x) is about the
# same for all of them (a PNG of an 8×8 image is mostly its fixed overhead, about 449 nats for every digits
# set), so subtracting it shifts the scores by a near-constant and cannot be what tells the sets apart.
PNG_MIN_SEPARATION = 0.1
# Within the model's own test set, r(IW score, ink share) at least this: the score does follow simplicity there.
SIMPLICITY_MIN_R = 0.3


def png_only_auc(inside: ScoredSet, outliers: ScoredSet) -> float:
    """AUC of −L(x) alone, the part of the complexity-corrected score iw_nll − L(x) that needs no VAE at all:
    the baseline any gain of the correction must be read against."""
    return roc(-inside.scores.code_length, -outliers.scores.code_length).auc


@dataclass(frozen=True)
class PngTerm:
    """What the PNG size L(x) can tell apart in one study."""

    set_means: dict[str, float]  # set key -> mean L(x), nats
    separation: float  # max over the outlier sets of |AUC of L(x) alone − 0.5|

    @property
    def informative(self) -> bool:
        """False where L(x) tells no outlier set from the test set: the correction then adds a near-constant."""
        return self.separation >= PNG_MIN_SEPARATION


def png_term(study: AnomalyStudy) -> PngTerm:
    means = {s.key: float(s.scores.code_length.mean()) for s in study.sets}
    others = [s for s in study.sets if not s.in_distribution]
    separation = max((abs(png_only_auc(study.inside, s) - 0.5) for s in others), default=0.0)
    return PngTerm(means, separation)


def inside_correlation(study: AnomalyStudy, a: str = "iw_nll", b: str = "ink") -> float:
    """Pearson's r between two per-image quantities within the model's own test set alone (no set differences)."""
    inside = study.inside.scores
    return float(np.corrcoef(getattr(inside, a), getattr(inside, b))[0, 1])


def most_telling_ood(study: AnomalyStudy) -> str:
    """The out-of-distribution set whose AUCs differ most between the scores (the first on a tie): the ROC set
    where the curves can be told apart, rather than one where every score separates perfectly and they coincide."""
    spreads = [max(r.auc.values()) - min(r.auc.values()) for r in study.results]
    return study.results[int(np.argmax(spreads))].ood_key


def coinciding_curves(auc: dict[str, float], decimals: int = 3) -> list[list[str]]:
    """Groups of score keys whose AUCs agree to `decimals`: their ROC curves may lie on top of each other."""
    groups: dict[float, list[str]] = {}
    for key, value in auc.items():
        groups.setdefault(round(value, decimals), []).append(key)
    return [keys for keys in groups.values() if len(keys) > 1]


def score_labels(protocol: DataProtocol) -> dict[str, str]:
    """What each score may be called for a model under its protocol (protocol.metric_names decides the words:
    a Bernoulli cross-entropy on grey levels is never called -log p(x))."""
    from vae_core.engine.protocol import metric_names

    vae, ae = metric_names(protocol, variational=True), metric_names(protocol, variational=False)
    if protocol.is_likelihood:
        iw = "IW −log p(x)"
        return {
            "neg_elbo": "−ELBO",
            "iw_nll": iw,
            "recon": vae.recon,
            "ae_recon": f"AE {ae.recon}",
            "likelihood_ratio": f"likelihood ratio: {iw} + log p_ref(x)",
            "complexity_corrected": f"complexity-corrected: {iw} − L(x)",
        }
    iw = "IW cross-entropy score (not −log p(x))"
    return {
        "neg_elbo": vae.neg_elbo or "cross-entropy + KL",
        "iw_nll": iw,
        "recon": vae.recon,
        "ae_recon": f"AE {ae.recon}",
        "likelihood_ratio": f"{iw} minus the independent-pixel cross-entropy",
        "complexity_corrected": f"{iw} − L(x)",
    }
