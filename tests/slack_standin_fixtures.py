"""Fixtures shared by the Slack stand-in's own tests: a fresh FakeSlack and a real WebClient on it."""
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from standins.slack_api import FakeSlack


CHANNEL = "C123"  # the public channel these tests write in, with the bot in it


@pytest.fixture
def fake():
    with FakeSlack() as f:
        f.add_channel(CHANNEL, members=[f.bot_user_id])
        yield f


@pytest.fixture
def client(fake):
    return WebClient(token="xoxb-test", base_url=fake.base_url)


def api_error(call, *args, **kwargs):
    with pytest.raises(SlackApiError) as info:
        call(*args, **kwargs)
    return info.value.response
