"""The autoencoder lesson's toy models, trained once and shipped in one safetensors file (no training at page open).

Every toy model a page of the family can show is listed by `shipped_toy_keys()`: the lesson's toy data
(TOY_DATA, one per manifold) times the specs its sliders offer (DAE_NOISES, CAE_WEIGHTS). `python -m vae_core zoo
--only autoencoder-toys` trains them all with train_toy_autoencoder (seeded: the same file on any machine up to
float rounding) and writes TOY_BUNDLE_FILE atomically; the pages load it and never train.

The file is a plain safetensors file: tensors named "<index>.<parameter>", and in its header's metadata a JSON
document (TOY_FORMAT) listing each entry's ToySettings, ToyTrainSpec, final loss and training seconds, plus the
SHA-256 of the document and the tensors' bytes, checked on load. No pickle is read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass, replace
from pathlib import Path

import safetensors.torch
import torch

from vae_core.engine.atomic_files import write_atomically
from vae_core.lessons.autoencoders.lesson_models import TOY_SPECS, ToySettings
from vae_core.lessons.autoencoders.toy_data import MANIFOLD_DIMS, make_toy_manifold
from vae_core.lessons.autoencoders.toy_models import ToyAutoencoder, ToyFit, ToyTrainSpec, train_toy_autoencoder

TOY_BUNDLE_NAME = "autoencoder-toys"  # its name for `python -m vae_core zoo --only`
# A subfolder: the checkpoint listing (not recursive) reads only model checkpoints, which this file is not.
TOY_BUNDLE_FILE = Path("toys") / f"{TOY_BUNDLE_NAME}.safetensors"
TOY_FORMAT = "vae-latent-explorer-toys"
TOY_FORMAT_VERSION = 1
CHECKSUM_KEY = "sha256"

# The lesson's toy data: one data set per manifold. Each further (points, noise) pair would ship 29 more models
# (about 1 MB in float32), so the data sliders were replaced by these fixed settings.
TOY_DATA = ToySettings()
DAE_MANIFOLDS = ("curve", "spiral")  # the denoising and contractive parts draw 2-D fields and responses
DAE_NOISES = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)  # the corruption std sigma the DAE slider offers
CAE_WEIGHTS = (0.3, 1.0, 3.0, 10.0)  # the contractive weights lambda the CAE slider offers


class ToyBundleError(Exception):
    """The toy bundle is missing, damaged, or lacks a model a page asked for; the message says which."""


def toy_data(manifold: str) -> ToySettings:
    """The lesson's toy data set on a manifold."""
    return ToySettings(manifold=manifold, n_points=TOY_DATA.n_points, noise=TOY_DATA.noise, seed=TOY_DATA.seed)


def pca_specs(manifold: str) -> tuple[ToyTrainSpec, ToyTrainSpec]:
    """Part 1's linear and non-linear AE for a manifold: a code one smaller than the ambient dimension."""
    code_dim = MANIFOLD_DIMS[manifold] - 1
    linear, nonlinear = TOY_SPECS["linear"], TOY_SPECS["nonlinear"]
    return replace(linear, code_dim=code_dim), replace(nonlinear, code_dim=code_dim)


def dae_spec(noise: float) -> ToyTrainSpec:
    return replace(TOY_SPECS["dae"], noise=noise)


def cae_spec(weight: float) -> ToyTrainSpec:
    return replace(TOY_SPECS["cae"], contractive_weight=weight)


def shipped_toy_keys() -> list[tuple[ToySettings, ToyTrainSpec]]:
    """Every (data, spec) pair the pages can ask for, in training order."""
    keys = [(toy_data(manifold), spec) for manifold in MANIFOLD_DIMS for spec in pca_specs(manifold)]
    for manifold in DAE_MANIFOLDS:
        data = toy_data(manifold)
        keys += [(data, dae_spec(noise)) for noise in DAE_NOISES]
        keys += [(data, TOY_SPECS["plain-2d"])] + [(data, cae_spec(weight)) for weight in CAE_WEIGHTS]
    return keys


def bundle_key(settings: ToySettings, spec: ToyTrainSpec) -> tuple:
    return astuple(settings) + astuple(spec)


@dataclass(frozen=True)
class ToyBundle:
    """The shipped toy models by bundle_key, and the file's SHA-256 (what caches of their numbers key on)."""

    fits: dict[tuple, ToyFit]
    checksum: str

    def fit(self, settings: ToySettings, spec: ToyTrainSpec) -> ToyFit:
        found = self.fits.get(bundle_key(settings, spec))
        if found is None:
            raise ToyBundleError(
                f"no shipped toy model for {spec.kind} on {settings.manifold} ({settings.n_points} points, noise "
                f"{settings.noise:g}); the lesson offers only the settings of shipped_toy_keys()"
            )
        return found


def train_toy_bundle(path: str | Path, log: Callable[[str], None] = print, threads: int = 1) -> Path:
    """Train every shipped toy model and write the bundle at path atomically (about a minute per ten models)."""
    state: dict[str, torch.Tensor] = {}
    entries = []
    keys = shipped_toy_keys()
    for index, (settings, spec) in enumerate(keys):
        points = make_toy_manifold(settings.manifold, settings.n_points, settings.noise, settings.seed).points
        fit = train_toy_autoencoder(points, spec, threads=threads)
        log(f"[{index + 1}/{len(keys)}] {spec.kind} on {settings.manifold}: loss {fit.final_loss:.5f}")
        for name, tensor in fit.model.state_dict().items():
            state[f"{index}.{name}"] = tensor.detach().float().contiguous()
        entries.append(
            {
                "index": index,
                "settings": asdict(settings),
                "spec": asdict(spec),
                "input_dim": int(points.shape[1]),
                "final_loss": fit.final_loss,
                "train_seconds": round(fit.seconds, 2),
            }
        )
    document = {
        "format": TOY_FORMAT,
        "format_version": TOY_FORMAT_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": str(torch.__version__),
        "entries": entries,
    }
    text = json.dumps(document, separators=(",", ":"))
    unsigned = safetensors.torch.save(state, metadata={TOY_FORMAT: text})
    checksum = _checksum(text, memoryview(unsigned)[8 + int.from_bytes(unsigned[:8], "little") :])
    data = safetensors.torch.save(state, metadata={TOY_FORMAT: text, CHECKSUM_KEY: checksum})
    return write_atomically(Path(path), lambda handle: handle.write(data))


def load_toy_bundle(path: str | Path) -> ToyBundle:
    """The shipped toy models, each in eval mode; ToyBundleError if the file is missing or damaged."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ToyBundleError(
            f"the toy models file {path.name} cannot be read ({err.strerror or err}); recreate it with "
            f"`python -m vae_core zoo --only {TOY_BUNDLE_NAME}`"
        ) from None
    try:
        length = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + length])["__metadata__"]
        text, checksum = meta[TOY_FORMAT], meta[CHECKSUM_KEY]
        if _checksum(text, memoryview(data)[8 + length :]) != checksum:
            raise ValueError("its tensors or document do not match its checksum")
        document = json.loads(text)
        if document.get("format_version") != TOY_FORMAT_VERSION:
            raise ValueError(f"format version {document.get('format_version')!r}, expected {TOY_FORMAT_VERSION}")
        tensors = safetensors.torch.load(data)
        fits = {}
        for entry in document["entries"]:
            settings, spec = ToySettings(**entry["settings"]), ToyTrainSpec(**entry["spec"])
            model = ToyAutoencoder(entry["input_dim"], spec.code_dim, spec.hidden, linear=spec.kind == "linear")
            prefix = f"{entry['index']}."
            model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
            fits[bundle_key(settings, spec)] = ToyFit(
                model.eval(), spec, [float(entry["final_loss"])], float(entry["train_seconds"])
            )
    except (ValueError, KeyError, TypeError, RuntimeError) as err:
        raise ToyBundleError(f"the toy models file {path.name} is damaged ({err})") from None
    return ToyBundle(fits, checksum)


def _checksum(text: str, tensor_bytes: memoryview) -> str:
    digest = hashlib.sha256(text.encode("utf-8"))
    digest.update(tensor_bytes)
    return digest.hexdigest()
