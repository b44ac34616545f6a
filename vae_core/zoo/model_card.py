"""The model card of a checkpoint folder (checkpoints/README.md), generated from the checkpoints' metadata.

Every number in the card is read from a checkpoint's metadata (its recorded test metrics, training time,
seeds); the prose around them is fixed text per family. The literature anchors of the default model are
the only numbers that do not come from a checkpoint, and the card says where they come from.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from vae_core.engine.atomic_files import write_atomically
from vae_core.engine.checkpoint_info import CheckpointInfo, list_checkpoints
from vae_core.engine.data import DATASET_NAMES
from vae_core.engine.literal_text import literal, literal_code
from vae_core.engine.protocol import DataProtocol, protocol_of
from vae_core.engine.results import EvaluationReport
from vae_core.engine.vocabulary import (
    ACTIVE_UNIT_VARIANCE,
    KINDS,
    ROLE_BETA_SWEEP,
    ROLE_CONDITIONAL,
    ROLE_DEFAULT,
    ROLE_DISENTANGLEMENT,
    ROLE_FAMILY_2D,
    ROLE_SPARSE_WIDE,
    ROLES,
    kind_noun,
)

CARD_NAME = "README.md"
# Within a section: the plain AE and VAE first (the pair the pages compare), then the variants, in KINDS' order.
KIND_ORDER = tuple(sorted(KINDS, key=lambda kind: not KINDS[kind].is_plain))
# Burda, Grosse & Salakhutdinov (2015), "Importance Weighted Autoencoders", Table 1: VAE with one stochastic
# layer (784-200-200-50), 3,280 epochs, test -log p(x) estimated with K = 5000.
ANCHOR_BURDA_NLL = 86.76
TARGET_NLL = 90.0  # this project's target for the default model: within 30 minutes of training on 2 CPU cores
REPRODUCE_COMMAND = "python -m vae_core zoo --out checkpoints/ && python -m vae_core model-card checkpoints/"


def write_model_card(folder: str | Path) -> Path:
    """Generate folder/README.md from the metadata of the checkpoints in folder (written atomically)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of checkpoints")
    text = render_model_card(folder)
    return write_atomically(folder / CARD_NAME, lambda handle: handle.write(text.encode("utf-8")))


def render_model_card(folder: str | Path) -> str:
    """The card's Markdown text: deterministic for a given set of checkpoint files."""
    scan = list_checkpoints(folder)
    if not scan.infos:
        raise ValueError(f"no readable checkpoints in {folder}; train them with `python -m vae_core zoo`")
    groups = group_checkpoints(scan.infos)
    lines = header_lines(scan.infos)
    for (role, group), infos in groups:
        lines += section_lines(role, group, infos)
    lines += replay_lines(scan.infos)
    lines += provenance_lines(scan.infos)
    if scan.problems:
        lines += ["", "## Files that could not be read", ""]
        lines += [f"- {literal_code(path.name)}: {literal(why)}" for path, why in scan.problems]
    return "\n".join(lines).rstrip() + "\n"


def group_checkpoints(infos: list[CheckpointInfo]) -> list[tuple[tuple[str, str], list[CheckpointInfo]]]:
    """(role, group) -> its checkpoints, default first, then families, then sweeps; others last."""
    groups: dict[tuple[str, str], list[CheckpointInfo]] = {}
    for info in infos:
        key = (str(info.metadata.get("role", "other")), str(info.metadata.get("group", "other")))
        groups.setdefault(key, []).append(info)

    def group_rank(key: tuple[str, str]) -> tuple[int, int, str]:
        role, group = key
        # data sets in the order the app lists them (mnist first), whatever the alphabet says
        dataset = next((i for i, name in enumerate(DATASET_NAMES) if group.startswith(f"{name}-")), len(DATASET_NAMES))
        return (ROLES.index(role) if role in ROLES else len(ROLES), dataset, group)

    def member_rank(info: CheckpointInfo) -> tuple:
        kind = info.model_config.kind
        return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), info.model_config.beta, info.name)

    return [(key, sorted(groups[key], key=member_rank)) for key in sorted(groups, key=group_rank)]


def header_lines(infos: list[CheckpointInfo]) -> list[str]:
    total_seconds = sum(float(info.metadata.get("train_seconds", 0.0)) for info in infos)
    total_cpu = sum(float(info.metadata.get("train_cpu_seconds", 0.0)) for info in infos)
    total_bytes = sum(info.path.stat().st_size for info in infos)
    hardware = sorted({literal(info.metadata.get("hardware", "unknown")) for info in infos})
    quick = any(info.metadata.get("quick") for info in infos)
    lines = [
        "# Model card: the shipped checkpoints",
        "",
        "Generated from the checkpoints' metadata by `python -m vae_core model-card <folder>`; do not edit by "
        "hand. Re-train the zoo from scratch, then regenerate this card, with:",
        "",
        f"    {REPRODUCE_COMMAND}",
        "",
        "(`zoo` skips models whose file already exists: delete a file to retrain it; `--only NAME...` trains a "
        "subset; `--quick` trains tiny versions for tests.)",
        "",
        f"- Checkpoints: {len(infos)}, {total_bytes / 1e6:.1f} MB in all.",
        f"- Training time of the whole zoo: {total_seconds / 60:.1f} min of wall clock, {total_cpu / 60:.1f} min "
        "of CPU time (sums over the models of the recorded `train_seconds` and `train_cpu_seconds`; evaluation "
        "not included). Wall time grows when other work shares the cores; CPU time does not.",
        f"- Hardware: {'; '.join(hardware)}.",
        "- Metrics are on the test split, in nats per image, measured on the weights as stored (float16 where "
        "`stored_dtype` says so, loaded back as float32). -ELBO = reconstruction + KL; "
        "IW-K is the importance-weighted estimate of -log p(x) with K samples (Burda et al. 2015): in "
        "expectation an upper bound on -log p(x) that tightens as K grows (one draw can move either way). A "
        "unit is active when the variance over the test set of its posterior mean (its code, for "
        f"autoencoders) exceeds {ACTIVE_UNIT_VARIANCE:g}.",
        "- Likelihood protocol: a Bernoulli decoder is a density of binary images, so a model whose numbers are "
        "read as likelihoods is trained with dynamic binarisation (each batch resampled, x ~ Bernoulli(pixels)) "
        "and measured on one fixed, seeded binarisation of the test set (the standard MNIST protocol; "
        "`protocol` column: binarised). A Bernoulli cross-entropy on grey levels (`grey-bernoulli`) is not "
        "-log p(x): such numbers are marked †, carry no IW estimate, and cannot go below the images' "
        "per-pixel binary entropy (the floor, shown with them).",
    ]
    if quick:
        lines += [
            "",
            "**These are `--quick` models: tiny, trained for one epoch on small slices. Their numbers "
            "say nothing about the full models.**",
        ]
    return lines


def section_lines(role: str, group: str, infos: list[CheckpointInfo]) -> list[str]:
    if role == ROLE_DEFAULT:
        heading = f"## Default models ({literal_code(group)})"
        return ["", heading, "", *default_paragraph(infos), "", *metrics_table(infos)]
    if role == ROLE_FAMILY_2D:
        return [
            "",
            f"## Latent size 2, side by side ({literal_code(group)})",
            "",
            *family_paragraph(infos),
            "",
            *metrics_table(infos),
        ]
    if role == ROLE_BETA_SWEEP:
        heading = f"## beta sweep ({literal_code(group)})"
        return ["", heading, "", *beta_sweep_paragraph(infos), "", *metrics_table(infos)]
    if role == ROLE_SPARSE_WIDE:
        return [
            "",
            f"## Wide sparse autoencoders ({literal_code(group)})",
            "",
            *sparse_wide_paragraph(infos),
            "",
            *metrics_table(infos),
        ]
    if role == ROLE_CONDITIONAL:
        return ["", f"## Conditional VAE ({literal_code(group)})", "", CONDITIONAL_PARAGRAPH, "", *metrics_table(infos)]
    if role == ROLE_DISENTANGLEMENT:
        return [
            "",
            f"## Disentanglement on sprites ({literal_code(group)})",
            "",
            *disentanglement_paragraph(infos),
            "",
            *metrics_table(infos),
        ]
    return ["", f"## Other checkpoints ({literal_code(group)})", "", *metrics_table(infos)]


def disentanglement_paragraph(infos: list[CheckpointInfo]) -> list[str]:
    """The sprites models' disentanglement numbers, from their metadata (vae_core.lessons.disentanglement)."""
    parts = []
    for info in infos:
        numbers = info.metadata.get("disentanglement")
        if isinstance(numbers, dict) and "mig" in numbers and "factor_vae_score" in numbers:
            mig, score = float(numbers["mig"]), float(numbers["factor_vae_score"])
            parts.append(f"`{info.name}` MIG {mig:.3f}, FactorVAE score {score:.3f}")
    return [
        "The disentanglement lesson's models: one MLP body and latent size 10, trained on the sprites drawn in code "
        "(vae_core.engine.sprites; binary, so their Bernoulli numbers are likelihoods without binarisation), beta "
        "varied, and a beta-TCVAE that weighs only the KL's total correlation. Measured on the posterior means of "
        "all 12,960 sprites: " + "; ".join(parts) + "."
    ]


def sparse_wide_paragraph(infos: list[CheckpointInfo]) -> list[str]:
    """Fixed prose about the autoencoder lesson's sparse pair; widths, rho and weights come from the configs."""
    parts = []
    for info in infos:
        m = info.model_config
        parts.append(
            f"{literal_code(info.name)}: {'-'.join(str(w) for w in (m.input_size, *m.hidden_dims, m.latent_dim))}, "
            f"KL sparsity penalty towards rho = {m.sparsity_target:g} with weight {m.sparsity_weight:g}"
        )
    return [
        "A wide sigmoid hidden layer, wider than the code after it, so that the sparsity penalty (the sum "
        "over hidden units of KL(rho || rho_hat_j), rho_hat_j a unit's average activation), not the "
        "bottleneck, decides how many units fire; the twin with weight 0 is the comparison. " + "; ".join(parts) + "."
    ]


CONDITIONAL_PARAGRAPH = (
    "The one-hot class label is an input of both the encoder q(z|x, y) and the decoder p(x|z, y); the prior stays "
    "N(0, I). Same body, data and schedule as the 2-D VAE of the same data set, so the two differ only by the "
    "label. Its -ELBO and IW numbers bound -log p(x | y), the cost of an image *given its class*, and are not "
    "comparable one for one with the VAE's -log p(x); compare the KL per dimension instead (the conditional VAE page)."
)


def default_paragraph(infos: list[CheckpointInfo]) -> list[str]:
    lines = []
    for info in infos:
        m, t, meta, report = info.model_config, info.train_config, info.metadata, info.metrics
        widths = "-".join(str(w) for w in (m.input_size, *m.hidden_dims, m.latent_dim))
        lines.append(
            f"{literal_code(info.name)}: {_article(kind_noun(m.kind))} {kind_noun(m.kind)} with an "
            f"{m.arch.upper()} body {widths} "
            f"(Bernoulli decoder), trained for {literal(meta.get('epochs_run', t.epochs))} epochs "
            f"({_minutes(meta.get('train_seconds'))} wall clock, {_minutes(meta.get('train_cpu_seconds'))} of CPU "
            f"time)"
            + (" with dynamic binarisation" if t.dynamic_binarization else "")
            + f", batch {t.batch_size}, Adam lr {t.lr:g} decayed by "
            f"{t.lr_decay:g} per epoch"
            + (f", KL warm-up over {t.kl_warmup_epochs} epochs" if m.is_variational else "")
            + f", seed {t.seed}. "
            + (
                "It drives the ELBO-breakdown page."
                if m.is_variational
                else "The ELBO-breakdown page sets it beside the default VAE of the same size and data protocol."
            )
        )
        lines.append("")
        if not m.is_variational:
            lines.append(
                f"- Test reconstruction NLL {_terms(report).recon} nats (−log p(x | x̂) at its one code; "
                "an autoencoder has no ELBO and no estimate of −log p(x))."
            )
            lines.append("")
            continue
        iw_nll = report.iw_nll if report is not None else None
        if report is not None and iw_nll is not None:
            lines.append(
                f"- **Test -log p(x) ≈ {iw_nll:.2f} nats** (IW estimate, K = {report.iw_samples}, "
                f"on {report.n_images} test images; test protocol: "
                f"{literal(meta.get('test_binarization', 'unknown'))})."
            )
        terms = _terms(report)
        lines.append(
            f"- Test -ELBO {terms.neg_elbo} nats = reconstruction {terms.recon} + KL {terms.kl}; "
            f"{_active(report)} of {m.latent_dim} latent units active."
        )
        lines.append(
            f"- Anchor: Burda et al. (2015), IWAE paper, Table 1, VAE with one stochastic layer "
            f"(784-200-200-50, 3,280 epochs, K = 5000): {ANCHOR_BURDA_NLL:.2f} nats. Target here: "
            f"<= {TARGET_NLL:.0f} nats within 30 minutes of training on 2 CPU cores."
        )
        if iw_nll is not None:
            gap = iw_nll - ANCHOR_BURDA_NLL
            verdict = "meets" if iw_nll <= TARGET_NLL else "misses"
            lines.append(
                f"- This model {verdict} the {TARGET_NLL:.0f}-nat target; it is {gap:.2f} nats "
                f"{'above' if gap >= 0 else 'below'} the Burda et al. figure."
            )
    return lines


def family_paragraph(infos: list[CheckpointInfo]) -> list[str]:
    """Fixed prose about latent size 2; the numbers are the codes' spread, read from each model's metrics."""
    spreads = []
    for info in infos:
        variance = info.metrics.latent_variance if info.metrics is not None else ()
        if variance:
            spreads.append(f"{kind_noun(info.model_config.kind)} {' and '.join(f'{v:.3g}' for v in variance)}")
    kinds = {info.model_config.kind for info in infos}
    text = (
        "With two latent units the codes can be drawn directly and the decoder can be swept over a grid. "
        "The plain autoencoder is free to place its codes anywhere: its scatter has gaps and far-flung arms, "
        "and decoding a point in a gap gives an image that belongs to no class, because nothing trained the "
        "decoder there. The VAE's KL term pulls its posterior means towards N(0, I), so its scatter fills "
        "the prior's disc and every point of the grid decodes to something that looks like a training image; "
        "the price is blurrier reconstructions."
    )
    if kinds & {"dae", "sae", "cae"}:
        text += (
            " The denoising, sparse and contractive autoencoders change the objective, not the "
            "architecture, and their scatters show how each penalty reshapes the code."
        )
    lines = [text]
    if spreads:
        lines += [
            "",
            "Variance over the test set of each latent unit's code (posterior mean for the VAE; "
            "N(0, I) would give 1): " + "; ".join(spreads) + ".",
        ]
    return lines


def beta_sweep_paragraph(infos: list[CheckpointInfo]) -> list[str]:
    """Fixed prose about the trade-off; the endpoints and active-unit counts come from the metrics."""
    points = sorted(infos, key=lambda info: info.model_config.beta)
    first, last = points[0], points[-1]
    text = (
        "The same architecture and seed, trained with the KL term weighted by beta (Higgins et al. 2017). "
        "Raising beta buys a smaller KL (averaged over the data, the KL bounds the information z carries "
        "about x from above) with a larger "
        "reconstruction error: the models trace a rate-distortion curve. Units whose KL drops to zero carry "
        "no information and are inactive. The two measures can disagree near the threshold: a unit whose "
        "posterior mean varies just a little across images counts as active even when its KL is a small "
        "fraction of a nat."
    )
    lines = [text, ""]
    lines.append(
        f"From beta = {first.model_config.beta:g} to beta = {last.model_config.beta:g}, the test KL goes from "
        f"{_terms(first.metrics).kl} to {_terms(last.metrics).kl} nats and the reconstruction term from "
        f"{_terms(first.metrics).recon} to {_terms(last.metrics).recon} nats. Active units (of "
        f"{first.model_config.latent_dim}): "
        + ", ".join(f"beta {p.model_config.beta:g}: {_active(p.metrics)}" for p in points)
        + "."
    )
    return lines


def metrics_table(infos: list[CheckpointInfo]) -> list[str]:
    rows = [
        [
            "checkpoint",
            "kind",
            "body",
            "z",
            "beta",
            "data",
            "protocol",
            "epochs",
            "train time",
            "-ELBO",
            "recon",
            "KL",
            "IW -log p(x)",
            "active units",
            "KL per dim (nats, largest first)",
        ]
    ]
    floors = []
    for info in infos:
        m, meta, report = info.model_config, info.metadata, info.metrics
        protocol = report.data_protocol if report is not None else protocol_of(info.train_config, m)
        mark = "" if protocol.is_likelihood else " †"
        if report is not None and report.entropy_floor is not None:
            floors.append(f"{literal_code(info.name)} {report.entropy_floor:.2f}")
        iw = report.iw_nll if report is not None else None
        terms = _terms(report)
        rows.append(
            [
                literal_code(info.name),
                m.kind,
                f"{m.arch} {'-'.join(str(w) for w in m.hidden_dims)}",
                str(m.latent_dim),
                f"{m.beta:g}" if m.is_variational else "-",
                info.train_config.dataset,
                protocol.value,
                literal(meta.get("epochs_run", info.train_config.epochs)),
                _minutes(meta.get("train_seconds")),
                terms.neg_elbo + (mark if terms.neg_elbo != "-" else ""),
                terms.recon + mark,
                terms.kl if m.is_variational else "-",
                f"{iw:.2f} (K={report.iw_samples})" if report is not None and iw is not None else "-",
                _active(report),
                format_kl_per_dim(list(report.kl_per_dim) if report is not None else []) if m.is_variational else "-",
            ]
        )
    lines = _markdown_table(rows)
    if any(row[6] == DataProtocol.GREY_BERNOULLI.value for row in rows[1:]):
        lines += [
            "",
            "† Bernoulli cross-entropy on grey levels (+ KL): not -log p(x) nor a bound on it. "
            "Per-pixel binary entropy floor of the test images, in nats: "
            + ("; ".join(floors) if floors else "not recorded")
            + ".",
        ]
    return lines


def replay_lines(infos: list[CheckpointInfo]) -> list[str]:
    """Which checkpoints carry a training replay (vae_core.engine.replay), with its frames and bytes."""
    carrying = sorted((info for info in infos if info.replay is not None), key=lambda i: i.name)
    if not carrying:
        return []
    rows = [["checkpoint", "frames", "steps", "images", "plane", "replay bytes"]]
    for info in carrying:
        replay = info.replay
        assert replay is not None
        rows.append(
            [
                literal_code(info.name),
                str(replay.frames),
                f"{replay.steps[0]}–{replay.steps[-1]}",
                str(replay.images),
                literal(replay.plane),
                f"{replay.stored_bytes:,}",
            ]
        )
    total = sum(info.replay.stored_bytes for info in carrying if info.replay is not None)
    return [
        "",
        "## Training replays",
        "",
        f"{len(carrying)} of the {len(infos)} checkpoints carry the replay of their training (the codes of a "
        "fixed set of test images and the decoder's grid, at evenly spaced steps from the untrained model to the "
        f"last step), {total / 1e6:.2f} MB of the files' bytes in all.",
        "",
        *_markdown_table(rows),
    ]


def provenance_lines(infos: list[CheckpointInfo]) -> list[str]:
    rows = [["checkpoint", "role", "group", "train / test images", "seed", "test protocol", "stored", "size"]]
    for info in sorted(infos, key=lambda i: i.name):
        meta = info.metadata
        sizes = meta.get("split_sizes") or {}
        rows.append(
            [
                literal_code(info.name),
                literal(meta.get("role", "-")),
                literal(meta.get("group", "-")),
                f"{literal(sizes.get('train', '-'))} / {literal(sizes.get('test', '-'))}",
                literal(meta.get("seed", "-")),
                f"binarised, seed {literal(meta.get('eval_seed'))}" if meta.get("test_binarized") else "grey levels",
                literal(meta.get("stored_dtype", "-")),
                f"{info.path.stat().st_size / 1e6:.2f} MB",
            ]
        )
    return ["", "## Provenance", "", *_markdown_table(rows)]


def format_kl_per_dim(values: list[float], decimals: int = 2) -> str:
    """KL per unit, largest first, with the tail of units that round to zero collapsed into one entry."""
    rounded = [round(v, decimals) for v in sorted(values, reverse=True)]
    shown = [v for v in rounded if v > 0]
    zeros = len(rounded) - len(shown)
    parts = [f"{v:.{decimals}f}" for v in shown]
    if zeros:
        parts.append(f"{0:.{decimals}f} ×{zeros}")
    return " ".join(parts)


def _markdown_table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows[1:]]
    return lines


def _num(value) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


class _Terms(NamedTuple):
    neg_elbo: str
    recon: str
    kl: str


def _terms(report: EvaluationReport | None) -> _Terms:
    """A report's headline terms as the card prints them ("-" for what a checkpoint did not record)."""
    if report is None:
        return _Terms("-", "-", "-")
    return _Terms(_num(report.neg_elbo), _num(report.recon), _num(report.kl))


def _active(report: EvaluationReport | None) -> str:
    return str(report.active_units) if report is not None and report.active_units is not None else "-"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _minutes(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
