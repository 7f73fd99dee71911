"""MODEL_PRICES (issue 15): a price file the bot cannot price with stops start-up, naming the file and why."""
import subprocess

import pytest

import harness


def test_refuses_to_start_with_a_bad_price_file(slack, tmp_path):
    """MODEL_PRICES names a file the bot cannot price with: the function does not start, and says why."""
    prices = tmp_path / "prices.json"
    prices.write_text('{"models": {"gpt-4o": {"input": -1, "cached_input": 1, "output": 1, "checked": "2026-12-06"}}}')
    env = harness.child_env(harness.bot_env(slack.base_url, None, MODEL_PRICES=str(prices)))
    port = harness.free_port()
    try:
        result = subprocess.run(
            [harness.FUNCTIONS_FRAMEWORK, "--target=slack_bot", "--source=main.py", f"--port={port}",
             "--host=127.0.0.1"],
            cwd=harness.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
        )
    except subprocess.TimeoutExpired as timeout:
        pytest.fail(f"the bot started with a price file it cannot use:\n{timeout.output!r}")
    output = result.stdout.decode(errors="replace")
    assert result.returncode != 0, output
    assert str(prices) in output and "negative" in output.lower(), output
