"""Settings: each variable lands in its room's group, typed; choices and SLACK_RATE_LIMITS refuse with clear errors."""
from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import get_args

import pytest

from threadwise.config import ConfigError, Settings, load_settings
from threadwise.config.groups import Dispatch, OpenAIApi, StoreBackend, StreamMode, WorkerAuth
from threadwise.config.slack_limits import DEFAULT_LIMITS, Limit, LimitSyntaxError, parse_limits

pytestmark = pytest.mark.in_process

ROOT = Path(__file__).resolve().parents[2]
BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}
GROUPS = ("slack", "model", "answering", "handoff", "state", "knowledge", "usage")
# Fields whose variable also says its unit.
RENAMED = {"claim_ttl": "CLAIM_TTL_SECONDS", "claim_lease": "CLAIM_LEASE_SECONDS",
           "job_deadline": "JOB_DEADLINE_SECONDS"}


def settings(**env: str) -> Settings:
    return load_settings({**BASE, **env})


# -- SLACK_RATE_LIMITS ------------------------------------------------------------------------------

def test_limits_syntax():
    limits = parse_limits("chat.update=30/2,, chat.delete=0.5 ,custom.method=10/1")
    assert limits["chat.update"] == Limit(30, 2)
    assert limits["chat.delete"] == Limit(0.5, 1), "the burst defaults to 1; rates under one a minute are fine"
    assert limits["custom.method"] == Limit(10, 1, per_channel=False)
    assert parse_limits(None) == parse_limits("") == DEFAULT_LIMITS
    with pytest.raises(LimitSyntaxError, match=r"^'chat.update=1=2/3' is not method=per_minute/burst$"):
        parse_limits("chat.update=1=2/3")
    with pytest.raises(LimitSyntaxError, match=r"^'chat.update=-1/3' is not method=per_minute/burst with positive"):
        parse_limits("chat.update=-1/3")


def test_parse_limits_overrides_the_defaults_and_keeps_per_channel():
    limits = parse_limits("chat.update=30/2, chat.postMessage=120/4")
    assert limits["chat.update"] == Limit(30, 2)
    assert limits["chat.postMessage"] == Limit(120, 4, per_channel=True)
    assert limits["chat.delete"].per_minute == 50
    for bad in ("chat.update=fast", "chat.update=0/1", "=5/1", "chat.update=5/0"):
        with pytest.raises(LimitSyntaxError):
            parse_limits(bad)


def test_the_slack_group_holds_the_parsed_limits():
    assert settings().slack.slack_rate_limits == DEFAULT_LIMITS
    assert settings(SLACK_RATE_LIMITS="chat.update=30/2").slack.slack_rate_limits["chat.update"] == Limit(30, 2)


@pytest.mark.parametrize("text, said", [
    ("chat.update=1=2/3", "SLACK_RATE_LIMITS: 'chat.update=1=2/3' is not method=per_minute/burst"),
    ("chat.update=-1/3", "SLACK_RATE_LIMITS: 'chat.update=-1/3' is not method=per_minute/burst with positive numbers"),
])
def test_a_bad_rate_limit_refuses_to_start_naming_the_variable(text, said):
    with pytest.raises(ConfigError) as refused:
        settings(SLACK_RATE_LIMITS=text)
    assert str(refused.value) == said


# -- choices ----------------------------------------------------------------------------------------

EMULATOR = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}
PUBSUB = {"PUBSUB_TOPIC": "t", "WORKER_AUTH": "token", "WORKER_TOKEN": "w", **EMULATOR}


@pytest.mark.parametrize("name, choice, group, field, default, needs", [
    ("OPENAI_API", OpenAIApi, "model", "openai_api", "responses", {}),
    ("DISPATCH", Dispatch, "handoff", "dispatch", "thread", PUBSUB),
    ("WORKER_AUTH", WorkerAuth, "handoff", "worker_auth", "oidc", EMULATOR),
    ("STORE", StoreBackend, "state", "store", "sqlite", {}),
    ("STREAM_MODE", StreamMode, "answering", "stream_mode", "update", {}),
])
def test_a_choice_is_one_of_its_types_values(name, choice, group, field, default, needs):
    assert getattr(getattr(settings(), group), field) == default
    values = get_args(choice)
    chosen = settings(**needs, **{name: values[-1].upper()})
    assert getattr(getattr(chosen, group), field) == values[-1], "in any case"
    with pytest.raises(ConfigError) as refused:
        settings(**{name: "Bogus"})
    assert str(refused.value) == f"{name} must be one of {', '.join(values)}, not 'bogus'"


def test_choices_that_need_each_other():
    with pytest.raises(ConfigError, match=r"^WEB_SEARCH=true needs OPENAI_API=responses"):
        settings(WEB_SEARCH="true", OPENAI_API="chat")
    with pytest.raises(ConfigError, match=r"^MAX_OUTPUT_TOKENS must be at least 16 for the Responses API, not 10\.$"):
        settings(MAX_OUTPUT_TOKENS="10")
    assert settings(MAX_OUTPUT_TOKENS="10", OPENAI_API="chat").model.max_output_tokens == 10
    with pytest.raises(ConfigError, match=r"^DISPATCH=pubsub needs PUBSUB_TOPIC"):
        settings(DISPATCH="pubsub")
    with pytest.raises(ConfigError, match=r"^WORKER_AUTH=token needs WORKER_TOKEN"):
        settings(DISPATCH="pubsub", PUBSUB_TOPIC="t", WORKER_AUTH="token", **EMULATOR)


@pytest.mark.parametrize("dispatch", ["thread", "pubsub"])
def test_worker_auth_token_is_only_for_the_pubsub_emulator(dispatch):
    """A secret in the push URL proves little (issue 16): outside the emulator, OIDC is the only way in."""
    env = dict(DISPATCH=dispatch, PUBSUB_TOPIC="t", WORKER_AUTH="token", WORKER_TOKEN="w")
    with pytest.raises(ConfigError, match=r"^WORKER_AUTH=token is only for the Pub/Sub emulator "
                                          r"\(PUBSUB_EMULATOR_HOST is not set\): use WORKER_AUTH=oidc"):
        settings(**env)
    with pytest.raises(ConfigError, match=r"^WORKER_AUTH=token is only for the Pub/Sub emulator"):
        settings(**env, PUBSUB_EMULATOR_HOST="  ")
    assert settings(**env, **EMULATOR).handoff.worker_auth == "token"


@pytest.mark.parametrize("access_token, said", [
    (None, "; ACCESS_TOKEN (?token=) may be set too, as an extra check."),
    ("acc", ". ACCESS_TOKEN alone is not enough: it is only an extra check on top of the signature."),
])
def test_the_http_function_needs_the_signing_secret(access_token, said):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", **({"ACCESS_TOKEN": access_token} if access_token else {})}
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    assert str(refused.value).startswith("Refusing to start: set SLACK_SIGNING_SECRET (the app's Signing Secret")
    assert str(refused.value).endswith(said)
    # Socket Mode is reached over the WebSocket it opens: the app-level token is all it needs.
    assert load_settings({**env, "SLACK_APP_TOKEN": "xapp-1"}, transport="socket").slack.slack_signing_secret is None


# -- groups -----------------------------------------------------------------------------------------

def test_every_field_is_read_from_its_variable():
    """Field names are the variables' names in lower case: grep finds one from the other."""
    config = "".join(path.read_text() for path in (ROOT / "threadwise" / "config").glob("*.py"))
    read = set(re.findall(r'env, "([A-Z_]+)"', config))
    loaded = settings()
    for group in GROUPS:
        for field in fields(getattr(loaded, group)):
            assert RENAMED.get(field.name, field.name.upper()) in read, f"{group}.{field.name}"


def test_each_room_gets_its_group():
    loaded = settings(NOTION_TOKEN="n", GOOGLE_CLOUD_PROJECT="p", SLACK_API_URL="http://slack.test/api",
                      OPENAI_MODEL="m", FILE_MAX_COUNT="3", CLAIM_LEASE_SECONDS="7", SQLITE_PATH="/x")
    assert loaded.knowledge.notion_token == "n"
    assert loaded.knowledge.slack_api_url == loaded.slack.slack_api_url == "http://slack.test/api/"
    assert loaded.handoff.google_cloud_project == loaded.state.google_cloud_project == "p"
    assert (loaded.model.openai_model, loaded.answering.file_max_count) == ("m", 3)
    assert (loaded.handoff.claim_lease, loaded.state.sqlite_path) == (7, "/x")


def test_a_field_is_read_only_through_its_group():
    """No flat name (``settings.openai_model``): a room that reads a field names the group it comes from."""
    loaded = settings(OPENAI_MODEL="m", TOOL_MAX_ROUNDS="3")
    assert (loaded.model.openai_model, loaded.knowledge.tool_max_rounds, loaded.handoff.dispatch) == ("m", 3, "thread")
    for group in GROUPS:
        for field in fields(getattr(loaded, group)):
            with pytest.raises(AttributeError):
                getattr(loaded, field.name)


def test_secrets_come_from_every_group():
    loaded = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "sig", "ACCESS_TOKEN": "acc",
                            "OPENAI_API_KEY": "sk-1", "WORKER_TOKEN": "wt", "SLACK_USER_TOKEN": "xoxp-1",
                            "NOTION_TOKEN": "n", "GITHUB_TOKEN": "g", "SLACK_APP_TOKEN": "xapp-1"})
    assert loaded.secrets() == ["xoxb-1", "sig", "acc", "sk-1", "wt", "xoxp-1", "n", "g", "xapp-1"]
