"""Prices as data (issue 15, item 2): the shipped table, the operator's file over it, the cost formula on
COST_FACTS' break-even anchor, dated model names, and an unknown model priced "unknown", never $0."""
from __future__ import annotations

import json
import logging
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from threadwise.config import ConfigError, load_settings
from threadwise.usage.prices import SHIPPED, ModelPrice, PriceTable, cost_of, load_price_table
from threadwise.usage.tokens import TokenCounts

pytestmark = pytest.mark.in_process

# COST_FACTS §6, "Break-even anchor": 3 000 input tokens (1 000 cached) + 500 output, + 1 000 reasoning for
# gpt-5*. Reasoning tokens are part of OpenAI's output count, so a gpt-5* turn reports 1 500 output tokens.
TURN = TokenCounts(input=3000, cached_input=1000, output=500)
REASONING_TURN = TokenCounts(input=3000, cached_input=1000, output=1500, reasoning=1000)
ANCHOR = {"gpt-4o-mini": "0.0007", "gpt-4.1-mini": "0.0017", "gpt-5-mini": "0.0035", "gpt-4.1": "0.0085",
          "gpt-4o": "0.0113", "gpt-5": "0.0176"}
# §6's list prices, USD per 1M tokens: input, cached input, output.
LIST_PRICES = {"gpt-4o-mini": ("0.15", "0.075", "0.60"), "gpt-4o": ("2.50", "1.25", "10.00"),
               "gpt-4.1": ("2.00", "0.50", "8.00"), "gpt-4.1-mini": ("0.40", "0.10", "1.60"),
               "gpt-5": ("1.25", "0.125", "10.00"), "gpt-5-mini": ("0.25", "0.025", "2.00")}
ENTRY = {"input": 1, "cached_input": 0.5, "output": 4, "checked": "2026-12-01", "source": "our contract"}


def write(tmp_path: Path, document, name: str = "prices.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def price(input_: str, cached: str, output: str) -> ModelPrice:
    return ModelPrice(Decimal(input_), Decimal(cached), Decimal(output), checked=date(2026, 12, 6))


# -- the formula -----------------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(ANCHOR))
def test_the_break_even_anchor_costs_what_the_facts_say(model):
    tokens = REASONING_TURN if model.startswith("gpt-5") else TURN
    cost = load_price_table().cost(model, tokens)
    # The facts round half up ($0.01125 → $0.0113); the cost itself stays exact.
    assert cost.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) == Decimal(ANCHOR[model])


def test_the_anchor_exactly():
    table = load_price_table()
    assert table.cost("gpt-4o", TURN) == Decimal("0.01125")
    assert table.cost("gpt-5", REASONING_TURN) == Decimal("0.017625")
    assert table.cost("gpt-4o-mini", TURN) == Decimal("0.000675")


def test_cached_tokens_are_billed_once_at_the_cached_rate():
    rates = price("2", "0.5", "8")
    assert cost_of(TokenCounts(input=1_000_000), rates) == Decimal("2")
    assert cost_of(TokenCounts(input=1_000_000, cached_input=1_000_000), rates) == Decimal("0.5"), \
        "all cached: the cached rate alone, not the input rate as well (simonw/llm's double count)"
    assert cost_of(TokenCounts(input=1_000_000, cached_input=250_000), rates) == Decimal("1.625")


def test_reasoning_tokens_are_output_tokens_and_billed_once():
    rates = price("0", "0", "10")
    with_reasoning = TokenCounts(output=1_000_000, reasoning=900_000)
    assert cost_of(with_reasoning, rates) == cost_of(TokenCounts(output=1_000_000), rates) == Decimal("10")


def test_money_is_decimal_and_exact():
    cost = cost_of(TokenCounts(input=1, output=1), price("0.15", "0.075", "0.60"))
    assert isinstance(cost, Decimal) and cost == Decimal("0.00000075")
    assert cost_of(TokenCounts(), price("1", "1", "1")) == 0


# -- the shipped table -----------------------------------------------------------------------------

def test_the_shipped_table_holds_the_facts_list_prices_with_date_and_source():
    models = load_price_table().models()
    assert set(models) == set(LIST_PRICES)
    for name, (input_, cached, output) in LIST_PRICES.items():
        entry = models[name]
        assert (entry.input, entry.cached_input, entry.output) == (Decimal(input_), Decimal(cached), Decimal(output))
        assert entry.checked == date(2026, 12, 6) and "COST_FACTS.md" in entry.source


def test_the_shipped_table_travels_with_the_package():
    """Cloud Functions uploads threadwise/ (see .gcloudignore); the table is read from beside the module."""
    assert SHIPPED == Path(__file__).resolve().parents[3] / "threadwise" / "usage" / "model_prices.json"


# -- dated names -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dated, family", [("gpt-4o-2024-08-06", "gpt-4o"), ("gpt-4o-2024-11-20", "gpt-4o"),
                                           ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
                                           ("gpt-4.1-2025-04-14", "gpt-4.1"),
                                           ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
                                           ("gpt-5-2025-08-07", "gpt-5"), ("gpt-5-mini-2025-08-07", "gpt-5-mini")])
def test_a_dated_name_the_table_lists_is_priced_as_its_family(dated, family):
    table = load_price_table()
    assert table.price_of(dated) == table.price_of(family)


def test_a_dated_name_the_table_does_not_list_has_no_price():
    """gpt-4o-2024-05-13 cost more than gpt-4o: a price is never guessed from a name's shape."""
    table = load_price_table()
    for name in ("gpt-4o-2024-05-13", "gpt-5-2099-01-01", "gpt-4o-mini-latest", "GPT-4O"):
        assert table.price_of(name) is None and table.cost(name, TURN) is None


def test_an_entry_of_its_own_wins_over_an_alias(tmp_path):
    override = write(tmp_path, {"models": {"gpt-4o-2024-08-06": ENTRY}})
    table = load_price_table(override)
    assert table.price_of("gpt-4o-2024-08-06").input == 1
    assert table.price_of("gpt-4o-2024-11-20").input == Decimal("2.50")


# -- an unknown model ------------------------------------------------------------------------------

def _unknown_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "threadwise.usage" and "no price" in r.getMessage()]


def test_an_unknown_model_costs_unknown_and_is_logged_once_per_model(caplog):
    table = load_price_table()
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            assert table.cost("llama3:8b", TURN) is None
        assert table.price_of("llama3:8b") is None
        assert table.cost("gpt-4o", TURN) is not None
    lines = _unknown_lines(caplog)
    assert len(lines) == 1, "once, not on every answer"
    assert lines[0].levelno == logging.WARNING
    assert "'llama3:8b'" in lines[0].getMessage() and "MODEL_PRICES" in lines[0].getMessage()
    assert lines[0].fields == {"model": "llama3:8b"}

    with caplog.at_level(logging.WARNING):
        table.cost("mistral", TURN)
        table.cost("mistral", TURN)
    assert [r.fields["model"] for r in _unknown_lines(caplog)] == ["llama3:8b", "mistral"], "once per model"


def test_a_price_of_zero_is_a_price(tmp_path, caplog):
    """A free local model costs $0 because the operator said so; that is not an unknown price."""
    free = {**ENTRY, "input": 0, "cached_input": 0, "output": 0}
    table = load_price_table(write(tmp_path, {"models": {"llama3:8b": free}}))
    with caplog.at_level(logging.WARNING):
        assert table.cost("llama3:8b", TURN) == 0
    assert _unknown_lines(caplog) == []


# -- the operator's file ---------------------------------------------------------------------------

def test_the_operators_file_replaces_and_adds(tmp_path):
    override = write(tmp_path, {
        "about": "our negotiated rates",
        "models": {"gpt-4o": {**ENTRY, "input": 2.0}, "gpt-5.4-mini": {**ENTRY, "input": 0.75, "cached_input": 0.075,
                                                                          "output": 4.50}},
        "aliases": {"gpt-5.4-mini-2026-03-17": "gpt-5.4-mini"},
    })
    table = load_price_table(override)
    assert table.price_of("gpt-4o") == ModelPrice(Decimal("2.0"), Decimal("0.5"), Decimal(4), date(2026, 12, 1),
                                                  "our contract"), "the whole entry is the operator's"
    assert table.price_of("gpt-4o-2024-08-06") == table.price_of("gpt-4o"), "the shipped alias follows the override"
    assert table.price_of("gpt-5.4-mini-2026-03-17").output == Decimal("4.50")
    assert table.price_of("gpt-4.1-mini").input == Decimal("0.40"), "what the file does not name stays shipped"
    assert len(table.models()) == len(LIST_PRICES) + 1


def test_prices_are_read_as_exact_decimals(tmp_path):
    table = load_price_table(write(tmp_path, {"models": {"m": {**ENTRY, "input": 0.1, "output": 0.7}}}))
    entry = table.price_of("m")
    assert entry.input == Decimal("0.1") and entry.output == Decimal("0.7"), "not the float nearest 0.1"
    assert table.cost("m", TokenCounts(input=3_000_000)) == Decimal("0.3")


def test_without_an_operators_file_the_shipped_table_alone():
    assert load_price_table(None).models() == load_price_table("").models() == load_price_table().models()


def test_the_setting_is_in_the_usage_group():
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                              "MODEL_PRICES": "/etc/threadwise/prices.json"})
    assert settings.usage.model_prices == "/etc/threadwise/prices.json"
    assert load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                          "MODEL_PRICES": " "}).usage.model_prices is None


# -- a bad file refuses to start, naming the file and the problem ----------------------------------

BAD_FILES = [
    ("not JSON", "{\"models\": {", r"is not JSON"),
    ("NaN", "{\"models\": {\"m\": {\"input\": NaN}}}", r"is not JSON: NaN is not a price"),
    ("a list", "[]", r"must hold a JSON object with \"models\", not list"),
    ("no models", {"about": "x"}, r"has no \"models\" object"),
    ("unknown top-level field", {"models": {}, "model": {}}, r"unknown field 'model'"),
    ("missing price", {"models": {"m": {k: v for k, v in ENTRY.items() if k != "output"}}},
     r"model 'm': the output price is missing"),
    ("negative price", {"models": {"m": {**ENTRY, "cached_input": -0.5}}},
     r"model 'm': the cached_input price is negative \(-0\.5\)"),
    ("text price", {"models": {"m": {**ENTRY, "input": "0.15"}}}, r"model 'm': the input price must be a number"),
    ("true as a price", {"models": {"m": {**ENTRY, "input": True}}}, r"the input price must be a number"),
    ("misspelt field", {"models": {"m": {**ENTRY, "cached": 0.1}}}, r"model 'm': unknown field 'cached'"),
    ("entry not an object", {"models": {"m": 0.15}}, r"model 'm': must be an object"),
    ("no date", {"models": {"m": {k: v for k, v in ENTRY.items() if k != "checked"}}},
     r"model 'm': \"checked\" must be the date the price was checked, YYYY-MM-DD, not None"),
    ("not a date's shape", {"models": {"m": {**ENTRY, "checked": "06/12/2026"}}}, r"YYYY-MM-DD, not '06/12/2026'"),
    ("no such day", {"models": {"m": {**ENTRY, "checked": "2026-02-30"}}}, r"\"checked\" is not a real date"),
    ("source not text", {"models": {"m": {**ENTRY, "source": 1}}}, r"\"source\" must be text"),
    ("alias to nothing", {"models": {}, "aliases": {"gpt-9-2030-01-01": "gpt-9"}},
     r"alias 'gpt-9-2030-01-01' names 'gpt-9', which has no entry"),
    ("alias to an alias", {"models": {}, "aliases": {"x": "gpt-4o-2024-08-06"}}, r"alias 'x' names"),
    ("aliases not names", {"models": {}, "aliases": {"x": 1}}, r"\"aliases\" must map"),
]


@pytest.mark.parametrize("document, said", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_bad_file_is_a_config_error_naming_it_and_the_problem(tmp_path, document, said):
    path = write(tmp_path, document)
    with pytest.raises(ConfigError, match=rf"^MODEL_PRICES file {re.escape(path)}.*{said}"):
        load_price_table(path)


def test_an_unreadable_file_is_a_config_error(tmp_path):
    missing = str(tmp_path / "nowhere.json")
    with pytest.raises(ConfigError, match=rf"^MODEL_PRICES file {re.escape(missing)} cannot be read: .*No such file"):
        load_price_table(missing)
    with pytest.raises(ConfigError, match=rf"^MODEL_PRICES file {re.escape(str(tmp_path))} cannot be read"):
        load_price_table(str(tmp_path))  # a directory
    binary = tmp_path / "prices.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"cannot be read"):
        load_price_table(str(binary))


def test_a_broken_shipped_table_names_itself(tmp_path):
    shipped = write(tmp_path, {"models": {"m": {**ENTRY, "output": -1}}}, "model_prices.json")
    with pytest.raises(ConfigError, match=rf"^the shipped price table {re.escape(shipped)}, model 'm'"):
        load_price_table(None, shipped=Path(shipped))


def test_a_table_built_by_hand_refuses_an_alias_to_nothing():
    with pytest.raises(ValueError, match="alias 'a' names 'b'"):
        PriceTable({}, {"a": "b"})
