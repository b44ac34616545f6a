"""The anomaly page's scored sets on disk: their cache key, and a warm-up that scores every setting the page offers.

Each set of a study (anomaly.set_keys) under one VAE/AE pair and one (images per set, K) is one entry of the disk
cache (disk_cache: keyed by both checkpoints' contents and every setting). The page (ui.state.anomaly_cache) reads
and writes the same entries through `scores_key`; `warm` scores, for every data set here, the pair the page opens
with, at every setting the page offers (anomaly.offered_settings), so that a server started before class finds
them all on disk. Entries are written atomically (disk_cache.cached): several server processes warming or scoring
the same entry at once duplicate work, never corrupt it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vae_core.engine.registry import ModelEntry, Registry
from vae_core.lessons import anomaly
from vae_core.serving.disk_cache import cache_folder, cached, checkpoint_content, read

if TYPE_CHECKING:
    from vae_core.engine.models import LatentModel

SCORES_CACHE_KIND = "anomaly-scores/1"  # bump when anomaly.score_set changes what it returns


def scores_key(
    vae_path: str,
    ae_path: str | None,
    protocol: str,
    dataset: str,
    key: str,
    *,
    subset: int | None,
    iw_samples: int,
    seed: int,
    contents: tuple[str, str | None] | None = None,
) -> dict[str, object]:
    """The disk cache's key of one scored set: both checkpoints' contents (read now unless given), every setting,
    and which images the likelihood ratio's reference is fitted to (the training split once it is here), never a
    file name or time."""
    from vae_core.engine.data import has_split

    vae_content, ae_content = contents if contents is not None else checkpoint_contents(vae_path, ae_path)
    return {
        "vae": vae_content,
        "ae": ae_content,
        "protocol": protocol,
        "dataset": dataset,
        "set": key,
        "subset": subset,
        "iw_samples": iw_samples,
        "seed": seed,
        "reference_on_training_split": has_split(dataset, "train"),
    }


def checkpoint_contents(vae_path: str, ae_path: str | None) -> tuple[str, str | None]:
    """The SHA-256 of both checkpoints' contents, as their headers record them."""
    return checkpoint_content(vae_path), checkpoint_content(ae_path) if ae_path is not None else None


# --- the warm-up ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarmStudy:
    """One study the page may open: a VAE (and AE) on a data set, its sets, at one setting."""

    dataset: str
    vae: ModelEntry
    ae: ModelEntry | None
    set_keys: tuple[str, ...]
    subset: int
    iw_samples: int


def warm_studies(registry: Registry, datasets: list[str]) -> list[WarmStudy]:
    """Every study the page opens with on these data sets, at every setting it offers: each data set's page pair
    (the sidebar's default model, anomaly.page_models) with every set, and on MNIST and Fashion-MNIST the pairs of
    section "both directions" with their own sets. Data sets without a VAE or a test split are left out."""
    from vae_core.engine.data import INPUT_SHAPES, has_split, load_dataset
    from vae_core.engine.registry import counterpart, default_entry

    directions = anomaly.direction_models(list(registry.entries))
    studies = []
    for dataset in datasets:
        if not has_split(dataset, "test"):
            continue
        own = [e for e in registry.for_dataset(dataset, INPUT_SHAPES[dataset]) if e.dataset == dataset]
        pair = anomaly.page_models(own, default_entry(own, dataset))
        plans: list[tuple[ModelEntry, ModelEntry | None, list[str]]] = []
        if pair is not None:
            plans.append((pair[0], pair[1], anomaly.set_keys(dataset)))
        if dataset in directions:
            vae = directions[dataset]
            plans.append(
                (vae, counterpart(list(registry.entries), vae), anomaly.set_keys(dataset, include_synthetic=False))
            )
        if not plans:
            continue
        n_test = len(load_dataset(dataset, "test"))
        for subset, iw_samples in anomaly.offered_settings(n_test):
            for vae, ae, keys in plans:
                studies.append(WarmStudy(dataset, vae, ae, tuple(keys), subset, iw_samples))
    return studies


class WarmStopped(Exception):
    """The warm-up was asked to stop (its `pause` callback raised it)."""


@dataclass(frozen=True)
class WarmReport:
    scored: int  # sets scored now
    found: int  # sets already on disk
    seconds: float


def warm(
    registry: Registry,
    datasets: list[str],
    *,
    log: Callable[[str], None] | None = None,
    pause: Callable[[], None] | None = None,
) -> WarmReport:
    """Score, into the disk cache, every set of every study of warm_studies not there yet.

    pause() is called before each set and after each batch of images: it may block (the server's warm-up waits
    there while pages run) or raise WarmStopped. After a pause, a set that another process finished meanwhile is
    not scored again. log(line) gets a line per set.
    """
    from vae_core.engine.checkpoints import load_checkpoint
    from vae_core.engine.models import VAE
    from vae_core.engine.protocol import protocol_of

    started = time.perf_counter()
    studies = warm_studies(registry, datasets)
    total = sum(len(s.set_keys) for s in studies)
    models: dict[str, LatentModel] = {}
    references: dict[str, anomaly.IndependentBernoulli] = {}
    scored = found = 0

    def model(entry: ModelEntry) -> LatentModel:
        if entry.path not in models:
            models[entry.path] = load_checkpoint(entry.path).model
        return models[entry.path]

    for study in studies:
        protocol = protocol_of(study.vae.info.train_config, study.vae.info.model_config)
        ae_path = study.ae.path if study.ae is not None else None
        contents = checkpoint_contents(study.vae.path, ae_path)
        for set_key in study.set_keys:
            key = scores_key(
                study.vae.path,
                ae_path,
                protocol.value,
                study.dataset,
                set_key,
                subset=study.subset,
                iw_samples=study.iw_samples,
                seed=anomaly.STUDY_SEED,
                contents=contents,
            )
            done = scored + found + 1
            where = (
                f"{study.dataset} / {study.vae.info.name} / {set_key}, {study.subset} images, K = {study.iw_samples}"
            )
            if pause is not None:
                pause()
            if read(SCORES_CACHE_KIND, key, anomaly.ScoredSet) is not None:
                found += 1
                continue
            set_started = time.perf_counter()
            if study.dataset not in references:
                references[study.dataset] = anomaly.IndependentBernoulli.fit(
                    anomaly.reference_images(study.dataset).images
                )

            def after_batch(_done: int, _total: int, key: dict[str, object] = key) -> None:
                if pause is not None:
                    pause()
                    if read(SCORES_CACHE_KIND, key, anomaly.ScoredSet) is not None:
                        raise _ScoredElsewhere

            def compute(study: WarmStudy = study, set_key: str = set_key, protocol=protocol) -> anomaly.ScoredSet:
                image_set = anomaly.build_set(study.dataset, set_key, subset=study.subset, seed=anomaly.STUDY_SEED)
                vae = model(study.vae)
                assert isinstance(vae, VAE), f"{study.vae.info.name} is not a VAE"
                return anomaly.score_set(
                    vae,
                    image_set,
                    protocol,
                    references[study.dataset],
                    ae=model(study.ae) if study.ae is not None else None,
                    iw_samples=study.iw_samples,
                    seed=anomaly.STUDY_SEED,
                    progress=after_batch,
                )

            try:
                cached(SCORES_CACHE_KIND, key, anomaly.ScoredSet, compute)
            except _ScoredElsewhere:
                found += 1
                continue
            scored += 1
            if log is not None:
                log(f"[{done}/{total}] {where}: {time.perf_counter() - set_started:.1f} s")
    return WarmReport(scored, found, time.perf_counter() - started)


class _ScoredElsewhere(Exception):
    """Another process wrote the set being scored while this one was paused."""


# --- the server's warm-up, in a child process ------------------------------------------------------------------

WARM_LOCK_FILE = "anomaly-scores.warm.lock"  # in the cache folder: one warm-up per data directory at a time
WARM_POLL_S = 0.1


def warm_datasets() -> list[str]:
    """The data sets the app offers whose test split is here."""
    from vae_core.engine.data import SIDEBAR_DATASETS, has_split

    return [name for name in SIDEBAR_DATASETS if has_split(name, "test")]


def warm_in_background(quiet: Any, parent_pid: int) -> None:
    """The server's warm-up child (started at the lowest priority): warm() on one torch thread, working only while
    `quiet` (a multiprocessing Event the server sets while no page runs) is set and ending with its parent.
    Another process warming the same data directory (a second server of deploy/serve.py) holds the lock file:
    then this one ends at once."""
    import torch

    from vae_core.engine.registry import registry_folders, scan_registry

    torch.set_num_threads(1)

    def pause() -> None:
        while not quiet.wait(WARM_POLL_S):
            if os.getppid() != parent_pid:
                raise WarmStopped
        if os.getppid() != parent_pid:
            raise WarmStopped

    with _only_warmer() as alone:
        if not alone:
            return
        with contextlib.suppress(WarmStopped):
            pause()
            warm(scan_registry(registry_folders()), warm_datasets(), pause=pause)


@contextlib.contextmanager
def _only_warmer() -> Iterator[bool]:
    """True while this process holds the warm-up's lock file (always, where fcntl is missing); released when the
    process ends, however it ends."""
    try:
        import fcntl
    except ImportError:  # not POSIX: two servers may warm the same entries; atomic writes keep them whole
        yield True
        return
    path = cache_folder() / WARM_LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
