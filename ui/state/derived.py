"""Cached results of running a model: encodings, projections, decoded images (st.cache_data).

Every function takes a vae_core.engine.registry.ModelRef first (`entry.ref(device)`, or `selection.model`), then plain
values; options are keyword-only. st.cache_data keys on the ref's values, and its checkpoint_id changes whenever
the checkpoint file does. Decoding is done in small batches under torch.inference_mode, and results are cached
as numpy arrays or PNG bytes, so a slider that returns to a position it has been at costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from ui.figures import latent as figures
from ui.state.loaders import load_model, load_split
from ui.state.session import session_token
from vae_core.engine.checkpoint_info import read_checkpoint_info
from vae_core.engine.data import measured_inputs
from vae_core.engine.evaluation import evaluate
from vae_core.engine.protocol import EVAL_BINARIZATION_SEED, DataProtocol, protocol_of
from vae_core.engine.registry import ModelRef
from vae_core.engine.results import EvaluationReport
from vae_core.lessons.projection import Projection2D, fit_projection
from vae_core.serving import images
from vae_core.serving.disk_cache import cached, checkpoint_content, content_digest
from vae_core.serving.tsne_job import BOARD as TSNE_BOARD
from vae_core.serving.tsne_job import TsneJob, sample_indices


@dataclass(frozen=True)
class EncodedSplit:
    """A data split through the encoder."""

    means: np.ndarray  # (N, D) float32: the AE's code, the VAE's posterior mean
    stds: np.ndarray | None  # (N, D) posterior standard deviations (VAEs only)
    labels: np.ndarray  # (N,) int64


@st.cache_resource(max_entries=6, show_spinner=False)
def measured_split(dataset: str, protocol: DataProtocol, split: str = "test") -> torch.Tensor:
    """A split's images as a model of that protocol is measured on them (vae_core.engine.data.measured_inputs):
    the one fixed binarisation for binarised models. Shared across sessions: read-only."""
    return measured_inputs(load_split(dataset, split).images, protocol)


ENCODED_SPLIT_CACHE_KIND = "encoded-split/1"  # bump when _encode changes what it returns
ENCODE_BATCH = 1000  # images per encoder call: bounds the activations' memory


@st.cache_resource(max_entries=6, show_spinner=False)
def split_digest(dataset: str, split: str = "test") -> str:
    """The SHA-256 of a split's images and labels (vae_core.serving.disk_cache.content_digest), once per process:
    what the on-disk caches of results computed from the split are keyed by."""
    data = load_split(dataset, split)
    return content_digest(data.images) + content_digest(data.labels)


@st.cache_data(max_entries=48, show_spinner="Encoding the test set…")
def encode_split(ref: ModelRef, dataset: str, *, split: str = "test") -> EncodedSplit:
    """Encode a whole split (all of it: 10 000 images for MNIST's test split) as the model is measured on it:
    a model trained on binarised images sees the split's one fixed binarisation (vae_core.engine.protocol).

    Also kept on disk (vae_core.serving.disk_cache), keyed by the checkpoint's content, the split's and the
    protocol: a page's first open after a server start reads it back (milliseconds) instead of running the encoder
    over the split (about a second for two models on a 2-core machine)."""
    info = read_checkpoint_info(ref.path)
    protocol = protocol_of(info.train_config, info.model_config)
    key = {
        "model": checkpoint_content(ref.path),
        "data": split_digest(dataset, split),
        "protocol": protocol.value,
        "binarization_seed": EVAL_BINARIZATION_SEED,
    }
    return cached(ENCODED_SPLIT_CACHE_KIND, key, EncodedSplit, lambda: _encode(ref, dataset, split, protocol))


def _encode(ref: ModelRef, dataset: str, split: str, protocol: DataProtocol) -> EncodedSplit:
    """One pass of the encoder over the split: the means (the AE's codes) and, for a VAE, the standard deviations."""
    model = load_model(ref)
    inputs = measured_split(dataset, protocol, split)
    means, logvars = [], []
    with torch.inference_mode():
        for start in range(0, len(inputs), ENCODE_BATCH):
            encoding = model.encode(inputs[start : start + ENCODE_BATCH].to(ref.device))
            means.append(encoding.mean.cpu())
            if model.config.is_variational:
                assert encoding.logvar is not None, "a variational model's encoder returns log-variances"
                logvars.append(encoding.logvar.cpu())
    stds = (0.5 * torch.cat(logvars)).exp().numpy().astype(np.float32) if logvars else None
    labels = load_split(dataset, split).labels.numpy()
    return EncodedSplit(torch.cat(means).numpy().astype(np.float32), stds, labels)


@st.cache_data(max_entries=48, show_spinner="Projecting the codes to 2-D…")
def project_split(ref: ModelRef, dataset: str, *, method: str = "pca") -> tuple[Projection2D, np.ndarray]:
    """(projection, (n, 2) points) of the test-split codes.

    A t-SNE of codes above 2-D comes from its server-wide run (`tsne_run`): call this once the run is done
    (`tsne_run(...).progress().state == "done"`); before that it raises RuntimeError, and nothing is cached. A
    capped t-SNE covers a random subset of the codes, `projection.indices`.
    """
    encoded = encode_split(ref, dataset)
    if method == "tsne" and encoded.means.shape[1] > 2:
        job = tsne_run(ref, dataset)
        projection = Projection2D("tsne", None, None, encoded.means.shape[1], indices=job.indices)
        return projection, job.points()
    projection, points = fit_projection(encoded.means, method)
    return projection, points.astype(np.float32)


def tsne_run(ref: ModelRef, dataset: str) -> TsneJob:
    """The t-SNE of the test-split codes (above 2-D) in its child process: the run going or done for this model,
    shared by every session, or a new one (after a cancel too); this session holds its lease (every call renews
    it: a run nobody holds is cancelled). Poll `.progress()`, stop it with `.cancel()`."""
    return TSNE_BOARD.start((ref, dataset), encode_split(ref, dataset).means, holder=session_token())


def decode(ref: ModelRef, codes: np.ndarray) -> np.ndarray:
    """Decoded images (N, C, H, W) in [0, 1] for codes (N, D) (not cached: callers cache what they show)."""
    model = load_model(ref)
    with torch.inference_mode():
        z = torch.as_tensor(np.asarray(codes, dtype=np.float32), device=ref.device)
        return model.decode(z).cpu().numpy()


@st.cache_data(max_entries=512, show_spinner=False)
def decoded_grid_png(ref: ModelRef, codes: np.ndarray, *, n_cols: int, cell_px: int = 56) -> bytes:
    """Decode codes and tile them n_cols wide into one PNG (cached on the codes' values)."""
    return images.grid_png(decode(ref, codes), n_cols, cell_px)


@st.cache_data(max_entries=256, show_spinner=False)
def prior_samples_png(ref: ModelRef, *, n: int, seed: int, temperature: float, n_cols: int, cell_px: int = 56) -> bytes:
    """n decoded draws from N(0, temperature² I) with a fixed seed, tiled into one PNG."""
    codes = prior_codes(n, load_model(ref).config.latent_dim, seed, temperature)
    return decoded_grid_png(ref, codes, n_cols=n_cols, cell_px=cell_px)


def prior_codes(n: int, latent_dim: int, seed: int, temperature: float = 1.0) -> np.ndarray:
    """n codes from N(0, temperature² I), the same for the same seed (on every machine: CPU generator)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn((n, latent_dim), generator=generator) * temperature).numpy()


@st.cache_data(max_entries=1024, show_spinner=False)
def reconstruction_png(ref: ModelRef, dataset: str, index: int, *, size_px: int = 140) -> tuple[bytes, bytes]:
    """(original, reconstruction) of test image `index` as PNGs; the reconstruction decodes the mean code."""
    model = load_model(ref)
    x = load_split(dataset, "test").images[index : index + 1]
    with torch.inference_mode():
        x_hat = model.reconstruct(x.to(ref.device)).cpu()
    return images.digit_png(x, size_px), images.digit_png(x_hat, size_px)


@st.cache_data(max_entries=64, show_spinner="Evaluating on the test set…")
def test_metrics(ref: ModelRef, dataset: str, *, protocol: DataProtocol | None = None) -> EvaluationReport:
    """vae_core.engine.evaluation.evaluate on the test split under the model's protocol (for models saved
    without metrics); None: the grey levels as they are."""
    return evaluate(load_model(ref), load_split(dataset, "test"), protocol=protocol)


@st.cache_data(max_entries=64, show_spinner=False)
def latent_figure(
    ref: ModelRef,
    dataset: str,
    *,
    method: str,
    title: str = "",
    axis_range: tuple | None = None,
    show_prior: bool = False,
    max_points: int | None = None,
) -> dict:
    """The test-split scatter of one model, as a plotly figure dict; max_points: at most that many of the
    points, a seeded random subset (vae_core.serving.tsne_job.sample_indices), where the scatter is only a backdrop.

    A dict, not a go.Figure: a cache hit unpickles it in well under a millisecond, where a Figure of 10 000
    points takes tens of milliseconds to rebuild. Pass it to st.plotly_chart through figures.trusted_figure,
    which spares the chart the same rebuild to validate the dict.
    """
    projection, points = project_split(ref, dataset, method=method)
    encoded = encode_split(ref, dataset)
    centre = (
        projection.transform(np.zeros((1, projection.latent_dim)))[0] if show_prior and projection.shows_prior else None
    )
    shown = projection.indices  # a capped t-SNE's subset: its labels, and its test indices for clicks
    if max_points is not None and (subset := sample_indices(len(points), max_points)) is not None:
        points = points[subset]
        shown = subset if shown is None else shown[subset]
    return figures.latent_scatter(
        points,
        encoded.labels if shown is None else encoded.labels[shown],
        load_split(dataset, "test").class_names,
        indices=shown,
        title=title,
        axis_titles=projection.axis_titles,
        prior_centre=centre,
        axis_range=axis_range,
    ).to_dict()


@st.cache_data(max_entries=256, show_spinner=False)
def encode_image(ref: ModelRef, image: np.ndarray) -> np.ndarray:
    """The deterministic code (D,) of one image (H, W) in [0, 1]: the AE's code, the VAE's posterior mean."""
    model = load_model(ref)
    x = torch.as_tensor(np.asarray(image, dtype=np.float32)).reshape(1, *model.config.input_shape)
    with torch.inference_mode():
        return model.embed(x.to(ref.device)).cpu().numpy()[0]


@st.cache_data(max_entries=512, show_spinner=False)
def decoded_png(ref: ModelRef, code: np.ndarray, *, size_px: int = 140) -> bytes:
    """One code decoded into a PNG about size_px wide."""
    return images.digit_png(decode(ref, np.asarray(code).reshape(1, -1))[0], size_px)
