"""The drift monitor's settings come from the environment and fail fast when unusable."""

import pytest

from model_runner.canary import window_settings_from_env
from model_runner.drift_windows import WindowSettings
from model_runner.settings import SettingsError


def test_defaults_and_overrides():
    assert window_settings_from_env({}) == WindowSettings()
    chosen = window_settings_from_env(
        {"RDV_DRIFT_WINDOW": "1000", "RDV_DRIFT_MIN_WINDOW": "400", "RDV_DRIFT_WINDOW_SECONDS": "60",
         "RDV_DRIFT_PSI_THRESHOLD": "0.25", "RDV_DRIFT_KS_ALPHA": "0.0001"}
    )
    assert (chosen.window_size, chosen.min_window, chosen.window_seconds) == (1000, 400, 60.0)
    assert (chosen.thresholds.psi, chosen.thresholds.ks_alpha) == (0.25, 0.0001)
    small = window_settings_from_env({"RDV_DRIFT_WINDOW": "100"})
    assert (small.window_size, small.min_window) == (100, 100)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RDV_DRIFT_WINDOW": "many"}, "RDV_DRIFT_WINDOW must be a whole number"),
        ({"RDV_DRIFT_WINDOW": "100", "RDV_DRIFT_MIN_WINDOW": "150"}, "min_window"),
        ({"RDV_DRIFT_WINDOW_SECONDS": "-1"}, "window_seconds"),
    ],
)
def test_unusable_settings_are_refused_at_start(env, message):
    with pytest.raises(SettingsError, match=message):
        window_settings_from_env(env)
