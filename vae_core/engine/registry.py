"""The checkpoint registry: the shipped and user folders scanned into model entries (no Streamlit here).

Pages never look at files: they ask the registry which models fit a data set, which AE pairs with a VAE,
and which models form a beta sweep. `ui.state.loaders.registry()` is the cached way to get one.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vae_core.engine.checkpoint_info import CheckpointInfo, is_listed_name, list_checkpoints  # no torch needed
from vae_core.engine.vocabulary import (
    ROLE_BETA_SWEEP,
    ROLE_DEFAULT,
    ROLE_FAMILY_2D,
    SOURCE_SHIPPED,
    SOURCE_USER,
    kind_label,
)

CHECKPOINT_DIR_ENV = "VAE_CHECKPOINT_DIR"
USER_CHECKPOINT_DIR_ENV = "VAE_USER_CHECKPOINT_DIR"
DEFAULT_CHECKPOINT_DIR = "checkpoints"
DEFAULT_USER_CHECKPOINT_DIR = "user_checkpoints"


@dataclass(frozen=True)
class ModelRef:
    """Which model to run, and where: what cached functions take instead of (checkpoint_id, path, device).

    Frozen and made of strings, so st.cache_data keys on it by value; checkpoint_id changes whenever the file
    does (its path, mtime and size), so a rewritten checkpoint never hits a stale cache entry.
    """

    checkpoint_id: str  # the cache key
    path: str  # what is loaded
    device: str = "cpu"  # "cpu" or "cuda"


def shipped_folder() -> Path:
    """Folder of the shipped zoo: $VAE_CHECKPOINT_DIR or ./checkpoints."""
    return Path(os.environ.get(CHECKPOINT_DIR_ENV, DEFAULT_CHECKPOINT_DIR))


def user_folder() -> Path:
    """Folder where models trained in the app are saved: $VAE_USER_CHECKPOINT_DIR or ./user_checkpoints."""
    return Path(os.environ.get(USER_CHECKPOINT_DIR_ENV, DEFAULT_USER_CHECKPOINT_DIR))


def registry_folders() -> tuple[tuple[str, str], ...]:
    """(source, folder) pairs to scan, shipped first; a folder named twice is scanned once."""
    pairs, seen = [], set()
    for source, folder in ((SOURCE_SHIPPED, shipped_folder()), (SOURCE_USER, user_folder())):
        resolved = str(folder.resolve())
        if resolved not in seen:
            seen.add(resolved)
            pairs.append((source, str(folder)))
    return tuple(pairs)


@dataclass(frozen=True)
class ModelEntry:
    """One loadable checkpoint as the app sees it."""

    info: CheckpointInfo
    source: str  # SOURCE_SHIPPED or SOURCE_USER
    checkpoint_id: str  # cache key: path, mtime and size when scanned

    @property
    def key(self) -> str:
        """Stable widget value: survives rewrites of the file, unlike checkpoint_id."""
        return f"{self.source}/{self.info.name}"

    @property
    def path(self) -> str:
        return str(self.info.path)

    def ref(self, device: str = "cpu") -> ModelRef:
        """The reference cached functions take: this checkpoint, run on device."""
        return ModelRef(checkpoint_id=self.checkpoint_id, path=self.path, device=device)

    @property
    def kind(self) -> str:
        return self.info.model_config.kind

    @property
    def needs_labels(self) -> bool:
        return self.info.model_config.needs_labels

    @property
    def is_variational(self) -> bool:
        return self.info.model_config.is_variational

    @property
    def latent_dim(self) -> int:
        return self.info.model_config.latent_dim

    @property
    def beta(self) -> float:
        return self.info.model_config.beta

    @property
    def dataset(self) -> str:
        return self.info.train_config.dataset

    @property
    def input_shape(self) -> tuple[int, int, int]:
        channels, height, width = self.info.model_config.input_shape
        return (channels, height, width)

    @property
    def role(self) -> str | None:
        return self.info.role

    @property
    def group(self) -> str | None:
        return self.info.group

    @property
    def label(self) -> str:
        """What the model picker shows, e.g. 'VAE · z=2 · β=1 — mnist-vae-z2 (shipped)'."""
        parts = [kind_label(self.kind), f"z={self.latent_dim}"]
        if self.is_variational:
            parts.append(f"β={self.beta:g}")
        where = "trained here" if self.source == SOURCE_USER else "shipped"
        return f"{' · '.join(parts)} — {self.info.name} ({where})"


@dataclass(frozen=True)
class Registry:
    entries: tuple[ModelEntry, ...]
    problems: tuple[tuple[str, str], ...]  # (file, why it was skipped)

    def for_dataset(self, dataset: str, input_shape: tuple[int, ...]) -> list[ModelEntry]:
        """Entries whose input shape fits the data set: those trained on it first, then the others.

        Models that also take labels (the conditional VAE) are left out: the pages that use this list feed
        images alone; conditional_for lists those."""
        fitting = [e for e in self.entries if e.input_shape == tuple(input_shape) and not e.needs_labels]
        return sorted(
            fitting,
            key=lambda e: (e.dataset != dataset, _role_rank(e), e.source != SOURCE_SHIPPED, natural_key(e.info.name)),
        )

    def conditional_for(self, dataset: str, input_shape: tuple[int, ...]) -> list[ModelEntry]:
        """Models that take labels (needs_labels) and fit the data set's images, those trained on it first."""
        fitting = [e for e in self.entries if e.input_shape == tuple(input_shape) and e.needs_labels]
        return sorted(
            fitting, key=lambda e: (e.dataset != dataset, e.source != SOURCE_SHIPPED, natural_key(e.info.name))
        )


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def natural_key(name: str) -> tuple[tuple[int, float, str], ...]:
    """A sort key that reads the numbers in a name as numbers: beta2 before beta16, z8 before z16, and
    beta0.25 between beta0.1 and beta0.5 (decimals too, unlike a digit-run natural sort)."""
    return tuple(
        (0, float(part), "") if i % 2 else (1, 0.0, part) for i, part in enumerate(_NUMBER.split(name)) if part
    )


def _role_rank(entry: ModelEntry) -> int:
    """Order in the picker: the 2-D family first (the pages' main lesson), then the default, the rest."""
    return {ROLE_FAMILY_2D: 0, ROLE_DEFAULT: 1, ROLE_BETA_SWEEP: 2}.get(entry.role or "", 3)


def folder_signature(folders: tuple[tuple[str, str], ...]) -> tuple:
    """Names, sizes and mtimes of every checkpoint file: a cheap cache key that changes when a file does."""
    signature = []
    for source, folder in folders:
        try:
            with os.scandir(folder) as it:
                for item in it:
                    if not is_listed_name(item.name):
                        continue
                    try:
                        if item.is_file():
                            stat = item.stat()
                            signature.append((source, item.name, stat.st_mtime_ns, stat.st_size))
                    except OSError:  # a symlink loop, a file gone or unreadable: the scan reports it
                        signature.append((source, item.name, -1, -1))
        except OSError:  # no such folder, not a folder, not readable: nothing to list
            continue
    return tuple(sorted(signature))


def scan_registry(folders: tuple[tuple[str, str], ...]) -> Registry:
    """Read the metadata of every checkpoint in the folders; unreadable files become problems."""
    entries, problems = [], []
    for source, folder in folders:
        scan = list_checkpoints(folder)
        for info in scan.infos:
            try:
                entries.append(ModelEntry(info, source, info.checkpoint_id))
            except OSError as err:  # deleted between the scan and the stat
                problems.append((str(info.path), f"{info.path.name}: {err.strerror or err}"))
        problems.extend((str(path), why) for path, why in scan.problems)
    return Registry(tuple(entries), tuple(problems))


def default_entry(entries: list[ModelEntry], dataset: str) -> ModelEntry | None:
    """The model a page opens with: the data set's 2-D VAE, else its default VAE, else any VAE, else the first."""
    own = [e for e in entries if e.dataset == dataset]
    for candidates in (
        [e for e in own if e.is_variational and e.role == ROLE_FAMILY_2D],
        [e for e in own if e.is_variational and e.role == ROLE_DEFAULT],
        [e for e in own if e.is_variational and e.latent_dim == 2],
        [e for e in own if e.is_variational],
        own,
        entries,
    ):
        if candidates:
            return candidates[0]
    return None


def counterpart(entries: list[ModelEntry], entry: ModelEntry) -> ModelEntry | None:
    """The model to compare entry with: a VAE for an AE-family model, a plain AE for a VAE.

    Same data set and latent size; one from entry's own group (the 2-D family) is preferred.
    """
    wanted_variational = not entry.is_variational
    candidates = [
        e
        for e in entries
        if e.is_variational == wanted_variational
        and e.dataset == entry.dataset
        and e.latent_dim == entry.latent_dim
        and e.key != entry.key
    ]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda e: (
            e.group is None or e.group != entry.group,
            e.role != ROLE_FAMILY_2D,
            not e.info.model_config.model_kind.is_plain,  # the plain AE (or VAE) before the variants
            abs(e.beta - 1.0),
            e.source != SOURCE_SHIPPED,
            e.info.name,
        ),
    )


def beta_sweeps(entries: list[ModelEntry], dataset: str) -> dict[str, list[ModelEntry]]:
    """group -> its beta-sweep VAEs for the data set, sorted by beta (groups in name order)."""
    groups: dict[str, list[ModelEntry]] = {}
    for e in entries:
        if e.role == ROLE_BETA_SWEEP and e.is_variational and e.dataset == dataset and e.group:
            groups.setdefault(e.group, []).append(e)
    # A sweep compares models that differ in beta alone: a group whose files disagree in latent size (a user's
    # file joining a shipped group, say) becomes one sweep per latent size.
    sweeps: dict[str, list[ModelEntry]] = {}
    for g, members in sorted(groups.items()):
        sizes = sorted({e.latent_dim for e in members})
        for size in sizes:
            name = g if len(sizes) == 1 else f"{g} ({size}-D latent)"
            sweeps[name] = sorted(
                (e for e in members if e.latent_dim == size),
                key=lambda e: (e.beta, e.source != SOURCE_SHIPPED, e.info.name),
            )
    return sweeps


def comparison_pair(entries: list[ModelEntry], entry: ModelEntry) -> tuple[ModelEntry | None, ModelEntry | None]:
    """(autoencoder, VAE) to show side by side: entry on its own side, its counterpart (if any) on the other."""
    other = counterpart(entries, entry)
    return (other, entry) if entry.is_variational else (entry, other)
