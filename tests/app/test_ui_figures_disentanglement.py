"""The disentanglement lesson's words follow its numbers: each branch of the claim's story on hand-made points."""

from __future__ import annotations

import numpy as np
import pytest

from ui.figures.disentanglement import claim_story, mi_heatmaps_figure, tradeoff_figure, traversal_figure
from vae_core.lessons.disentanglement import DisentanglementReport, ModelPoint, check_claim, disentangled_reference


def point(kind: str, beta: float, mig: float, fvae: float, recon: float) -> ModelPoint:
    report = DisentanglementReport(("a", "b"), ((mig, 0.0), (0.0, mig)), (mig, mig), mig, fvae, 2, 100)
    return ModelPoint(f"{kind}-{beta:g}", kind, beta, recon, 5.0, (2.0, 1.0), report)


def test_the_story_says_the_claim_holds_when_both_metrics_rise_at_every_step():
    check = check_claim([point("vae", 1, 0.1, 0.5, 30), point("vae", 4, 0.2, 0.6, 35), point("vae", 16, 0.3, 0.7, 50)])
    assert check.holds
    story = claim_story(check)
    assert story.startswith("**Here the claim holds**") and "+20.0 nats per image" in story


def test_the_story_says_in_part_and_which_metric_disagrees():
    points = [point("vae", 1, 0.08, 0.77, 37), point("vae", 4, 0.02, 0.42, 47), point("vae", 16, 0.19, 0.58, 75)]
    points.append(point("tcvae", 6, 0.26, 0.65, 49))
    check = check_claim(points)
    assert not check.holds and check.largest_beta_beats_smallest and check.best.kind == "tcvae"
    story = claim_story(check)
    assert "holds only in part" in story and "MIG does not rise at every step" in story
    assert "by the FactorVAE score it is not" in story
    assert "0.08 (β = 1), 0.02 (β = 4), 0.19 (β = 16)" in story
    assert "less reconstruction" in story  # the β-TCVAE's 49 nats against the best VAE's 75


def test_the_story_says_the_claim_fails_when_the_largest_beta_is_no_better():
    check = check_claim([point("vae", 1, 0.3, 0.8, 30), point("vae", 8, 0.1, 0.9, 45)])
    assert claim_story(check).startswith("**Here the claim does not hold**")


def test_the_claim_needs_two_betas():
    with pytest.raises(ValueError, match="two VAEs"):
        check_claim([point("vae", 1, 0.3, 0.8, 30), point("tcvae", 6, 0.3, 0.8, 30)])


def test_the_figures_carry_the_numbers_they_are_given():
    points = [point("vae", 1, 0.1, 0.5, 30), point("vae", 4, 0.2, 0.6, 35), point("tcvae", 6, 0.4, 0.7, 33)]
    fig = tradeoff_figure(points)
    mig_vae = next(t for t in fig.data if t.name == "MIG: VAE")
    assert list(mig_vae.x) == [1, 4] and list(mig_vae.y) == [0.1, 0.2]
    heat = mi_heatmaps_figure(points[0], disentangled_reference(2, 2))
    assert np.array_equal(heat.data[0].z, points[0].report.matrix()[:, [0, 1]])
    images = np.zeros((2, 3, 4, 4))
    images[1, 2] = 1.0
    picture = traversal_figure(images, [1, 0], (2.0, 1.0), 3.0).data[0].z
    assert picture.shape == (2 * 5 - 1, 3 * 5 - 1, 3)
    assert picture[5:9, 10:14].max() == 0 and picture[0:4, 0:4].min() == 255  # dark where the decoder drew
