"""MODEL_PRICES (issue 15): a price file the bot cannot price with stops start-up, naming the file and why."""
import harness


def test_refuses_to_start_with_a_bad_price_file(slack, tmp_path):
    """MODEL_PRICES names a file the bot cannot price with: the function does not start, and says why."""
    prices = tmp_path / "prices.json"
    prices.write_text('{"models": {"gpt-4o": {"input": -1, "cached_input": 1, "output": 1, "checked": "2026-12-06"}}}')
    env = harness.child_env(harness.bot_env(slack.base_url, None, MODEL_PRICES=str(prices)))
    output = harness.refused_start(env, "with a price file it cannot use")
    assert str(prices) in output and "negative" in output.lower(), output
