"""The numbers the autoencoder lesson shows with its default settings, computed as the page computes them.

    python -m benchmarks.ae_lesson_numbers                    # toy data + MNIST (from checkpoints/)
    python -m benchmarks.ae_lesson_numbers --dataset digits   # offline: digits models trained now

Errors are squared errors ||x - x_hat||^2 per point or per image (pixels in [0, 1]), averaged; Jacobian norms
are ||J_f(x)||_F^2 of the encoder's code. One torch thread (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from vae_core.engine.data import load_dataset
from vae_core.engine.vocabulary import UNIT_ON_ACTIVATION
from vae_core.lessons.autoencoders import numbers as L
from vae_core.lessons.autoencoders.lesson_models import (
    GAUSSIAN_LEVELS,
    IMAGE_EXHIBITS,
    MASK_LEVELS,
    PCA_TRAIN_IMAGES,
    PERTURBATION_NORM,
    TEST_IMAGES,
    TOY_SPECS,
    WIDE_SPARSE_RHO,
    ToySettings,
    image_model,
)
from vae_core.lessons.autoencoders.toy_data import grid_2d, make_toy_manifold, manifold_normal
from vae_core.lessons.autoencoders.toy_models import train_toy_autoencoder

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def toy_numbers() -> None:
    settings = ToySettings()
    toy = make_toy_manifold(settings.manifold, settings.n_points, settings.noise, settings.seed)
    print(f"## Toy data: {settings}")
    fits = {}
    for exhibit, spec in TOY_SPECS.items():
        fits[exhibit] = train_toy_autoencoder(toy.points, spec)
        print(f"  trained {exhibit:9s} {spec}: {fits[exhibit].seconds:.1f} s")
    comparison = L.compare_with_pca(toy.points, fits["linear"].model, fits["nonlinear"].model)
    print(
        f"1. principal angle PCA vs linear AE: {comparison.largest_angle_deg:.4f} deg; mean squared error "
        f"per point: PCA {comparison.pca_error:.5f}, linear AE {comparison.linear_error:.5f}, "
        f"non-linear AE {comparison.nonlinear_error:.5f}"
    )
    grid = grid_2d(toy.points, steps=21)
    alignment = L.field_alignment(L.reconstruction_field(fits["dae"].model, grid), grid, toy.clean)
    near, far = 2 * TOY_SPECS["dae"].noise, 4 * TOY_SPECS["dae"].noise
    print(
        f"3. DAE field: arrows within 45 deg of the way back to the curve: "
        f"{alignment.fraction_pointing_back(max_distance=near):.0%} of grid points closer than {near:g}, "
        f"{alignment.fraction_pointing_back(min_distance=far):.0%} of those farther than {far:g}"
    )
    normal = manifold_normal(toy)
    for exhibit in ("plain-2d", "cae"):
        response = L.along_across(fits[exhibit].model, toy.clean, toy.tangent, normal)
        print(f"4. toy {exhibit}: reconstruction slope along {response.along:.2f}, across {response.across:.2f}")


def image_numbers(dataset: str) -> None:
    print(f"## {dataset}: the first {TEST_IMAGES} test images")
    test = load_dataset(dataset, "test").images[:TEST_IMAGES]
    train = load_dataset(dataset, "train").images[:PCA_TRAIN_IMAGES]
    models = {}
    for exhibit in IMAGE_EXHIBITS:
        started = time.perf_counter()
        models[exhibit] = image_model(dataset, exhibit, CHECKPOINTS)
        print(f"  {exhibit}: ready in {time.perf_counter() - started:.1f} s")
    ae_error = L.reconstruction_errors(models["ae"], test).mean().item()
    pca_errors = {k: L.squared_error(test, L.pca_reconstruct(L.fit_pca(train, k), test)).mean().item() for k in (2, 16)}
    print(f"1. squared error per image: PCA-2 {pca_errors[2]:.2f}, PCA-16 {pca_errors[16]:.2f}, AE z=2 {ae_error:.2f}")
    for exhibit in ("dense", "sparse"):
        hidden = L.hidden_activations(models[exhibit], test)
        rho_hat = L.mean_activations(models[exhibit], test)
        print(
            f"2. {exhibit} ({hidden.shape[1]} sigmoid units): fraction of units > {UNIT_ON_ACTIVATION:g} per image "
            f"{L.fraction_on(hidden, UNIT_ON_ACTIVATION).mean().item():.3f}; mean rho_hat "
            f"{rho_hat.mean().item():.3f} (target rho {WIDE_SPARSE_RHO:g} for the sparse one); "
            f"squared error {L.reconstruction_errors(models[exhibit], test).mean().item():.2f}"
        )
    for kind, levels in (("gaussian", GAUSSIAN_LEVELS), ("mask", MASK_LEVELS)):
        curve = L.denoising_curve({"ae": models["ae"], "dae": models["dae"]}, test, kind, levels)
        print(f"3. {kind} noise, squared error against the clean digit:")
        for i, level in enumerate(levels):
            print(
                f"   level {level:<5g} noisy input {curve.input_errors[i]:7.2f}  "
                f"AE {curve.model_errors['ae'][i]:7.2f}  DAE {curve.model_errors['dae'][i]:7.2f}"
            )
    for exhibit in ("ae", "cae"):
        summary = L.contraction_summary(models[exhibit].embed, test, PERTURBATION_NORM)
        print(
            f"4. {exhibit}: ||J_f||_F^2 mean {summary.jacobian_sq_mean:.2f}, median {summary.jacobian_sq_median:.2f};"
            f" code spread {summary.code_spread:.2f}; ||J_f||_F / spread {summary.relative_jacobian:.3f}; "
            f"code moves {summary.displacement_mean:.4f} under ||dx|| = {PERTURBATION_NORM:g} "
            f"({summary.relative_displacement:.4f} spreads)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("mnist", "digits"), default="mnist")
    args = parser.parse_args()
    torch.set_num_threads(1)
    toy_numbers()
    image_numbers(args.dataset)


if __name__ == "__main__":
    main()
