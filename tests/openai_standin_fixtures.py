"""Fixtures shared by the OpenAI stand-in's own tests: a fresh FakeOpenAI and a real openai client on it."""
import openai
import pytest

from standins.openai_api import FakeOpenAI


@pytest.fixture
def fake():
    with FakeOpenAI(api_key="sk-test-0123456789abcdef") as f:
        yield f


@pytest.fixture
def client(fake):
    c = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=10)
    yield c
    c.close()
