"""One home per word: the names, labels and thresholds the engine, the CLI, the model card and the app share.

Plain strings rather than enums, on purpose: roles and sources are written into checkpoint metadata, a JSON
document (vae_core.engine.checkpoint_info) that holds plain values only. No torch here.
"""

from __future__ import annotations

# --- roles: what a shipped model is for (metadata["role"]); models trained in the app may carry one too ------
ROLE_DEFAULT = "default"  # the data set's high-quality model (the ELBO page's)
ROLE_FAMILY_2D = "family-2d"  # a latent-size-2 model, shown side by side with its AE / VAE counterpart
ROLE_BETA_SWEEP = "beta-sweep"  # one β of a sweep; the sweep is metadata["group"]
ROLE_SPARSE_WIDE = "sparse-wide"  # the autoencoder lesson's wide sparse AE and its twin without the penalty
ROLE_CONDITIONAL = "conditional"  # a conditional VAE (label-conditioned), for the conditional VAE page
# the model card's section order
ROLES = (ROLE_DEFAULT, ROLE_FAMILY_2D, ROLE_BETA_SWEEP, ROLE_SPARSE_WIDE, ROLE_CONDITIONAL)

# --- sources: which folder a model came from -------------------------------------------------------------------
SOURCE_SHIPPED = "shipped"  # checkpoints/ ($VAE_CHECKPOINT_DIR)
SOURCE_USER = "user"  # trained in the app: user_checkpoints/ ($VAE_USER_CHECKPOINT_DIR)

# --- model kinds (vae_core.engine.config.MODEL_KINDS) -----------------------------------------------------------------
# label: short, capitalised, for pickers and titles. noun: inside a sentence ("a denoising AE with ...").
KIND_LABELS = {
    "ae": "AE",
    "dae": "Denoising AE",
    "sae": "Sparse AE",
    "cae": "Contractive AE",
    "vae": "VAE",
    "cvae": "Conditional VAE",
}
KIND_NOUNS = {
    "ae": "autoencoder",
    "dae": "denoising AE",
    "sae": "sparse AE",
    "cae": "contractive AE",
    "vae": "VAE",
    "cvae": "conditional VAE",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def kind_noun(kind: str) -> str:
    return KIND_NOUNS.get(kind, kind)


# --- default body sizes ---------------------------------------------------------------------------------------------
DEFAULT_HIDDEN = {"mlp": (512, 256), "conv": (32, 64)}  # MLP widths / conv channels when none are given

# --- latent units ---------------------------------------------------------------------------------------------------
# An *active unit* (Burda, Grosse & Salakhutdinov 2015, section 5.2): dimension d with Cov_x(E_q[z_d | x]) above
# this, i.e. the posterior mean (an AE's code) varies across the data. The one meaning of "active" here.
ACTIVE_UNIT_VARIANCE = 0.01

# An *informative dimension* is a KL-based notion, a different one: the nats a dimension's posterior carries.
# Of a model (the β page): its test-set mean KL(q(z_d|x) || p(z_d)) exceeds this; the others have collapsed.
INFORMATIVE_MEAN_KL = 0.01
# About one image (the ELBO page): its KL(q(z_d|x) || p(z_d)) for that image is at least this.
INFORMATIVE_IMAGE_KL = 0.05


def dim_name(d: int) -> str:
    """The name of latent dimension d (0-based index): 'z₁' for d = 0, 'z₁₂' for d = 11. 1-based everywhere."""
    return "z" + str(d + 1).translate(_SUBSCRIPTS)


_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
