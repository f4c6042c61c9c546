"""The drift monitor's settings come from the environment and fail fast when unusable."""

import pytest

from contracts.settings_catalog import setting
from model_runner.canary import CanarySettings, canary_settings_from_env
from model_runner.settings import SettingsError


def test_defaults_and_overrides():
    assert canary_settings_from_env({}) == CanarySettings()
    assert CanarySettings().bucket_s == setting("RDV_DRIFT_WINDOW_SECONDS").default
    assert canary_settings_from_env({"RDV_DRIFT_WINDOW_SECONDS": "5"}).bucket_s == 5.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RDV_DRIFT_WINDOW_SECONDS": "soon"}, "RDV_DRIFT_WINDOW_SECONDS"),
        ({"RDV_DRIFT_WINDOW_SECONDS": "-1"}, "RDV_DRIFT_WINDOW_SECONDS"),
    ],
)
def test_unusable_settings_are_refused_at_start(env, message):
    with pytest.raises(SettingsError, match=message):
        canary_settings_from_env(env)
