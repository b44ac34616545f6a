"""One home per word: the names, labels and thresholds the engine, the CLI, the model card and the app share.

Plain strings rather than enums, on purpose: roles and sources are written into checkpoint metadata, a JSON
document (vae_core.engine.checkpoint_info) that holds plain values only. No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# --- roles: what a shipped model is for (metadata["role"]); models trained in the app may carry one too ------
ROLE_DEFAULT = "default"  # the data set's high-quality model (the ELBO page's)
ROLE_FAMILY_2D = "family-2d"  # a latent-size-2 model, shown side by side with its AE / VAE counterpart
ROLE_BETA_SWEEP = "beta-sweep"  # one β of a sweep; the sweep is metadata["group"]
ROLE_SPARSE_WIDE = "sparse-wide"  # the autoencoder lesson's wide sparse AE and its twin without the penalty
ROLE_CONDITIONAL = "conditional"  # a conditional VAE (label-conditioned), for the conditional VAE page
ROLE_DISENTANGLEMENT = "disentanglement"  # a sprites model of the disentanglement lesson (VAE, β-VAEs, β-TCVAE)
# the model card's section order
ROLES = (ROLE_DEFAULT, ROLE_FAMILY_2D, ROLE_BETA_SWEEP, ROLE_SPARSE_WIDE, ROLE_CONDITIONAL, ROLE_DISENTANGLEMENT)
# A role belongs to a checkpoint. The models one lesson picks for itself are its *exhibits*, a different word
# for a different thing: the autoencoder lesson's are "ae", "dae", "cae", "sparse" and "dense"
# (vae_core.lessons.autoencoders.lesson_models.IMAGE_EXHIBITS, mapped to zoo files by name, not by role).

# --- sources: which folder a model came from -------------------------------------------------------------------
SOURCE_SHIPPED = "shipped"  # checkpoints/ ($VAE_CHECKPOINT_DIR)
SOURCE_USER = "user"  # trained in the app: user_checkpoints/ ($VAE_USER_CHECKPOINT_DIR)

# --- model kinds: one record per kind (vae_core.engine.config.MODEL_KINDS is its keys) ------------------------------
# Default body sizes per architecture when a config names none: MLP widths, or conv channels (each conv halves H
# and W). Conv channels are not MLP widths: 512 and 256 channels would make a ~2.5M-parameter conv model.
DEFAULT_HIDDEN = {"mlp": (512, 256), "conv": (32, 64)}


@dataclass(frozen=True)
class ModelKind:
    """One model family: what it is called, what it takes and adds to the reconstruction, its default sizes."""

    name: str  # the registry name stored in checkpoints, e.g. "vae"
    label: str  # short, capitalised, for pickers and titles: "Denoising AE"
    noun: str  # inside a sentence: "a denoising AE with ..."
    variational: bool = False  # an encoder q(z|x), a KL term, an ELBO
    takes_labels: bool = False  # the encoder and the decoder also take the class label (fit and evaluate pass labels=)
    corrupts_inputs: bool = False  # trained to undo noise added to its inputs
    penalty: str | None = None  # the AE family's penalty added to the reconstruction, in words; None without one
    penalty_formula: str | None = None  # the same penalty as a formula, for chart titles
    tc_weighted: bool = False  # β weighs only the KL's total-correlation part (the β-TCVAE), not the whole KL
    # default body sizes for each architecture the kind can be built with
    hidden_dims: Mapping[str, tuple[int, ...]] = field(default_factory=lambda: DEFAULT_HIDDEN)

    @property
    def is_plain(self) -> bool:
        """The plain AE and the plain VAE: no labels, no corruption, no penalty (the pair the pages compare)."""
        return not (self.takes_labels or self.corrupts_inputs or self.penalty or self.tc_weighted)

    def default_hidden(self, arch: str) -> tuple[int, ...]:
        """The body sizes a config of this kind gets when it names none; ValueError for an arch it lacks."""
        if arch not in self.hidden_dims:
            bodies = " or ".join(name.upper() for name in self.hidden_dims)
            raise ValueError(f"a {self.name} model has an {bodies} body only; use arch {next(iter(self.hidden_dims))}")
        return self.hidden_dims[arch]


# In the order pickers list them: the autoencoder family, then the VAEs.
KINDS: dict[str, ModelKind] = {
    kind.name: kind
    for kind in (
        ModelKind("ae", "AE", "autoencoder"),
        ModelKind("dae", "Denoising AE", "denoising AE", corrupts_inputs=True),
        ModelKind("sae", "Sparse AE", "sparse AE", penalty="sparsity penalty", penalty_formula="λ·Σ|h|"),
        ModelKind(
            "cae", "Contractive AE", "contractive AE", penalty="contractive penalty", penalty_formula="λ·‖∂h/∂x‖²"
        ),
        ModelKind("vae", "VAE", "VAE", variational=True),
        ModelKind(
            "cvae",
            "Conditional VAE",
            "conditional VAE",
            variational=True,
            takes_labels=True,
            hidden_dims={"mlp": DEFAULT_HIDDEN["mlp"]},  # label-conditioned MLP body only
        ),
        # Chen et al. (2018): the VAE with its KL's total-correlation part weighted by β (the disentanglement lesson)
        ModelKind("tcvae", "β-TCVAE", "β-TCVAE", variational=True, tc_weighted=True),
    )
}


def model_kind(kind: str) -> ModelKind:
    """The record of a kind; ValueError naming the known ones for any other."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind]


def kind_label(kind: str) -> str:
    """The kind's label for pickers and titles; an unknown kind is shown as it is."""
    return KINDS[kind].label if kind in KINDS else kind


def kind_noun(kind: str) -> str:
    """The kind's noun inside a sentence; an unknown kind is shown as it is."""
    return KINDS[kind].noun if kind in KINDS else kind


# --- latent units ---------------------------------------------------------------------------------------------------
# An *active unit* (Burda, Grosse & Salakhutdinov 2015, section 5.2): dimension d with Cov_x(E_q[z_d | x]) above
# this, i.e. the posterior mean (an AE's code) varies across the data. The one meaning of "active" here.
ACTIVE_UNIT_VARIANCE = 0.01

# An *informative dimension* is a KL-based notion, a different one: the nats a dimension's posterior carries.
# Of a model: its test-set mean KL(q(z_d|x) || p(z_d)) exceeds this; the others have collapsed. The one term the
# pages use for a model's dimensions (captions, the β page, the Train page); "active units" stays in the model card.
INFORMATIVE_MEAN_KL = 0.01
INFORMATIVE_DEFINITION = (
    f"a dimension is *informative* when its KL(q(z_d|x) ‖ p(z_d)), averaged over the test images, exceeds "
    f"{INFORMATIVE_MEAN_KL:g} nats; the others have collapsed onto the prior"
)
# About one image (the ELBO page): its KL(q(z_d|x) || p(z_d)) for that image is at least this.
INFORMATIVE_IMAGE_KL = 0.05

# A hidden unit is *on* for one image when its sigmoid activation exceeds this (the autoencoder lesson's sparse
# AEs; the page's slider starts here). A third notion, about a hidden layer, not the latent code: neither active
# nor informative.
UNIT_ON_ACTIVATION = 0.1


def dim_name(d: int) -> str:
    """The name of latent dimension d (0-based index): 'z₁' for d = 0, 'z₁₂' for d = 11. 1-based everywhere."""
    return "z" + str(d + 1).translate(_SUBSCRIPTS)


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
