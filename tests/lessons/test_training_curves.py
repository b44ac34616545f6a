"""find_kl_dip: the early dip of a small VAE's KL, told apart from collapse and from the first epoch's low KL."""

from vae_core.lessons.training_curves import DIP_SHARE, find_kl_dip

# train KL per epoch of the Train page's digits defaults (2-D VAE, 256-128, 30 epochs, 10 of warm-up, seed 0)
DIGITS_DEFAULTS = [0.25, 2.54, 0.78, 0.27, 0.10, 0.04, 0.02, 0.01, 0.03, 0.04, 0.08, 0.14, 0.32, 0.51, 0.57]
DIGITS_DEFAULTS += [0.57, 0.62, 0.63, 0.68, 0.66, 0.70, 0.76, 0.87, 1.17, 1.22, 1.38, 1.39, 1.43, 1.47, 1.45]


def test_the_digits_defaults_dip_from_epoch_4_to_12():
    dip = find_kl_dip(DIGITS_DEFAULTS)
    assert dip is not None
    assert (dip.first_epoch, dip.last_epoch, dip.lowest_kl) == (4, 12, 0.01)
    final = sum(DIGITS_DEFAULTS[-3:]) / 3
    assert abs(dip.final_kl - final) < 1e-12
    assert all(v < DIP_SHARE * final for v in DIGITS_DEFAULTS[3:12])
    assert DIGITS_DEFAULTS[2] >= DIP_SHARE * final and DIGITS_DEFAULTS[12] >= DIP_SHARE * final


def test_no_dip_in_a_rising_curve_in_collapse_or_in_a_short_run():
    assert find_kl_dip([0.1, 0.5, 1.0, 1.2, 1.3, 1.3]) is None  # only the first epoch is low: not a dip
    assert find_kl_dip([1.0, 0.5, 0.01, 0.01, 0.01, 0.01]) is None  # never rises again: collapse, not a dip
    assert find_kl_dip([0.0, 0.0, 0.0, 0.0, 0.0]) is None
    assert find_kl_dip([1.0, 0.0, 1.0]) is None  # too short to have a final KL and a dip
