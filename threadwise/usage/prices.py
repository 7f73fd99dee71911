"""Prices as data: what a model's tokens cost, from the table shipped beside this module and the operator's.

``model_prices.json`` (shipped) and the file ``MODEL_PRICES`` names have one shape::

    {"about": "free text",
     "models": {"gpt-4o": {"input": 2.50, "cached_input": 1.25, "output": 10.00,
                           "checked": "2026-12-06", "source": "where the figures were read"}},
     "aliases": {"gpt-4o-2024-08-06": "gpt-4o"}}

Prices are USD per 1M tokens, read as exact decimals. The operator's file replaces a shipped model's
entry whole and adds to the aliases. A model is priced by its own entry, else by the entry an alias
names, else not at all: a dated snapshot can cost what its family does not (gpt-4o-2024-05-13), so no
price is ever inferred from a name. An unpriced model's cost is ``None`` ("unknown"), never $0; a
price of 0 is honoured only because someone wrote it (a free local model).

Prices change, and OpenAI's lineup moves on: that is why they are data, not code, and why each entry
says when it was checked against what.
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Mapping

from threadwise import logs
from threadwise.config import ConfigError
from threadwise.usage.tokens import TokenCounts

SHIPPED = Path(__file__).with_name("model_prices.json")
PRICE_FIELDS = ("input", "cached_input", "output")
ENTRY_FIELDS = (*PRICE_FIELDS, "checked", "source")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_PER_MILLION = -6  # a price per 1M tokens times a count, shifted six places: exact, whatever the context

log = logs.get("threadwise.usage")


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M tokens, and when and where the figures were checked."""

    input: Decimal  # an input token not read from the cache
    cached_input: Decimal  # an input token read from the cache
    output: Decimal  # an output token, reasoning tokens included
    checked: date
    source: str = ""


def cost_of(tokens: TokenCounts, price: ModelPrice) -> Decimal:
    """USD, exact (rounding is for display). Cached tokens are part of the input and are billed once, at the
    cached rate; reasoning tokens are part of the output and are billed there (COST_FACTS §6 and addendum)."""
    per_million = ((tokens.input - tokens.cached_input) * price.input
                   + tokens.cached_input * price.cached_input
                   + tokens.output * price.output)
    return per_million.scaleb(_PER_MILLION)


class PriceTable:
    """Prices by model name. Build one a process (``load_price_table``): it remembers which unpriced
    models it has already told the operator about, so the log says so once, not on every answer."""

    def __init__(self, models: Mapping[str, ModelPrice], aliases: Mapping[str, str] | None = None):
        self._models = dict(models)
        self._aliases = dict(aliases or {})
        for alias, target in self._aliases.items():
            if target not in self._models:
                raise ValueError(f"alias {alias!r} names {target!r}, which has no price")
        self._told: set[str] = set()
        self._lock = threading.Lock()

    def price_of(self, model: str) -> ModelPrice | None:
        """The model's price, or ``None`` when the table has none (logged once per model)."""
        name = model if model in self._models else self._aliases.get(model)  # its own entry wins over an alias
        price = self._models.get(name) if name is not None else None
        if price is None:
            self._tell_once(model)
        return price

    def cost(self, model: str, tokens: TokenCounts) -> Decimal | None:
        """USD for these tokens of this model; ``None`` when its price is unknown (never $0)."""
        price = self.price_of(model)
        return None if price is None else cost_of(tokens, price)

    def models(self) -> dict[str, ModelPrice]:
        """The priced models by name (the aliases not among them), e.g. for a report of the prices in use."""
        return dict(self._models)

    def _tell_once(self, model: str) -> None:
        with self._lock:
            if model in self._told:
                return
            self._told.add(model)
        log.warning(f"no price for model {model!r}: its answers are recorded with their tokens and an unknown "
                    f"cost; add it to the file MODEL_PRICES names (USD per 1M tokens) to price them",
                    model=model)


def load_price_table(override: str | None = None, shipped: Path = SHIPPED) -> PriceTable:
    """The shipped table with the operator's file (``settings.usage.model_prices``) over it. Call it at
    start-up: a bad file is a ``ConfigError`` that names the file and what is wrong, before any answer."""
    models, aliases = _read(shipped, f"the shipped price table {shipped}")
    if override:
        label = f"MODEL_PRICES file {override}"
        extra_models, extra_aliases = _read(Path(override), label)
        models.update(extra_models)
        aliases.update(extra_aliases)
        _check_aliases(extra_aliases, models, label)
    _check_aliases(aliases, models, f"the shipped price table {shipped}")
    return PriceTable(models, aliases)


def _read(path: Path, label: str) -> tuple[dict[str, ModelPrice], dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{label} cannot be read: {error}") from None
    try:
        document = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError as error:
        raise ConfigError(f"{label} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{label} must hold a JSON object with \"models\", not {type(document).__name__}")
    _only(document, ("about", "models", "aliases"), label)
    entries = document.get("models")
    if not isinstance(entries, dict):
        raise ConfigError(f"{label} has no \"models\" object (model name → prices)")
    aliases = document.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) and v for v in aliases.values()):
        raise ConfigError(f"{label}: \"aliases\" must map each dated model name to the name of an entry")
    return {name: _entry(name, entry, label) for name, entry in entries.items()}, dict(aliases)


def _entry(name: str, entry: Any, label: str) -> ModelPrice:
    where = f"{label}, model {name!r}"
    if not name.strip():
        raise ConfigError(f"{label}: a model name is empty")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: must be an object with {', '.join(ENTRY_FIELDS)}")
    _only(entry, ENTRY_FIELDS, where)
    prices = {field: _price(entry, field, where) for field in PRICE_FIELDS}
    source = entry.get("source", "")
    if not isinstance(source, str):
        raise ConfigError(f"{where}: \"source\" must be text")
    return ModelPrice(**prices, checked=_checked(entry, where), source=source)


def _price(entry: dict, field: str, where: str) -> Decimal:
    if field not in entry:
        raise ConfigError(f"{where}: the {field} price is missing (USD per 1M tokens)")
    value = entry[field]
    # bool is an int to Python; true is not a price.
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ConfigError(f"{where}: the {field} price must be a number (USD per 1M tokens), not {value!r}")
    value = Decimal(value)
    if value < 0:
        raise ConfigError(f"{where}: the {field} price is negative ({value})")
    return value


def _checked(entry: dict, where: str) -> date:
    raw = entry.get("checked")
    if not isinstance(raw, str) or not _DAY.fullmatch(raw):
        raise ConfigError(f"{where}: \"checked\" must be the date the price was checked, YYYY-MM-DD, not {raw!r}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{where}: \"checked\" is not a real date: {raw!r}") from None


def _check_aliases(aliases: Mapping[str, str], models: Mapping[str, ModelPrice], label: str) -> None:
    for alias, target in aliases.items():
        if target not in models:
            raise ConfigError(f"{label}: alias {alias!r} names {target!r}, which has no entry in \"models\"")


def _only(found: dict, allowed: tuple[str, ...], where: str) -> None:
    # A misspelt field ("cached") would otherwise be ignored and its price taken for missing, or worse.
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown field {', '.join(map(repr, unknown))} (expected {', '.join(allowed)})")


def _no_constant(name: str) -> Decimal:
    raise ValueError(f"{name} is not a price")
