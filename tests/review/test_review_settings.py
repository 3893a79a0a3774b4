"""review.trigger arrives flat, dotted or nested; bad values are named."""

import pytest

from lsp_server.settings import Settings, SettingsError


@pytest.mark.parametrize("overrides", [
    {"review.trigger": "onDemand"},
    {"review": {"trigger": "onDemand"}},
    {"reviewTrigger": "onDemand"},
    {"review_trigger": "onDemand"},
])
def test_review_trigger_forms(overrides):
    assert Settings().merged(overrides).review_trigger == "onDemand"


def test_default_is_on_save_and_other_groups_pass_through():
    settings = Settings().merged({"languages": {"python": False}, "somethingNew": {"deep": 1}})
    assert settings.review_trigger == "onSave"
    assert settings.languages == {"python": False}


def test_bad_trigger_is_named():
    with pytest.raises(SettingsError, match="review.trigger"):
        Settings().merged({"review": {"trigger": "always"}})
