"""The anomaly page's scored sets on disk: their cache key, shared by the page and anything that writes its entries.

Each set of a study (anomaly.set_keys) under one VAE/AE pair and one (images per set, K) is one entry of the disk
cache (disk_cache: keyed by both checkpoints' contents and every setting). The page (ui.state.anomaly_cache) reads
and writes the entries through `scores_key`, which needs no Streamlit.
"""

from __future__ import annotations

from vae_core.serving.disk_cache import checkpoint_content

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
