"""ALLOWED_CHANNELS / ALLOWED_USERS decided (issue 15, item 4): unset is everyone; DMs are restricted by
ALLOWED_CHANNELS only when it lists a D… id; the channel is checked before the person."""
from __future__ import annotations

import pytest

from threadwise.config.groups import UsageSettings
from threadwise.usage.allowlists import NotAllowed, refusal_of, sentence

pytestmark = pytest.mark.in_process


def rules(channels=None, users=None) -> UsageSettings:
    return UsageSettings(model_prices=None, allowed_channels=frozenset(channels) if channels is not None else None,
                         allowed_users=frozenset(users) if users is not None else None)


def test_unset_means_everyone():
    assert refusal_of(rules(), "C1", "U1") is None
    assert refusal_of(rules(), "D1", "U1") is None


def test_channels():
    assert refusal_of(rules(channels={"C1", "G2"}), "C1", "U1") is None
    assert refusal_of(rules(channels={"C1", "G2"}), "G2", "U1") is None
    assert refusal_of(rules(channels={"C1"}), "C2", "U1") is NotAllowed.CHANNEL
    assert refusal_of(rules(channels=set()), "C1", "U1") is NotAllowed.CHANNEL


def test_dms_are_restricted_only_when_a_dm_is_listed():
    assert refusal_of(rules(channels={"C1"}), "D9", "U1") is None, "channels only: DMs are left to ALLOWED_USERS"
    assert refusal_of(rules(channels={"C1", "D1"}), "D9", "U1") is NotAllowed.CHANNEL
    assert refusal_of(rules(channels={"C1", "D1"}), "D1", "U1") is None


def test_users_and_the_channel_first():
    assert refusal_of(rules(users={"U1"}), "C1", "U1") is None
    assert refusal_of(rules(users={"U1"}), "C1", "U2") is NotAllowed.USER
    assert refusal_of(rules(users={"U1"}), "D1", "U2") is NotAllowed.USER
    assert refusal_of(rules(channels={"C1"}, users={"U1"}), "C2", "U2") is NotAllowed.CHANNEL


def test_the_sentence_says_where_and_whom_to_ask():
    assert sentence(NotAllowed.CHANNEL, "C1", {"U9"}) == "Threadwise is not enabled in this channel; ask <@U9> if you need it."
    assert sentence(NotAllowed.CHANNEL, "D1", ()) == ("Threadwise is not enabled in this conversation; ask your "
                                                      "Slack admin if you need it.")
    assert sentence(NotAllowed.USER, "C1", {"U9"}).startswith("Threadwise is not enabled for you;")
