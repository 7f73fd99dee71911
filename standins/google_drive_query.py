"""Drive's query language (``q=``) and partial responses (``fields=``), as FakeGoogle parses them.

``parse_query`` turns ``q`` into a predicate over stored files: string literals with ``\\'`` and
``\\\\`` escapes, ``contains``/``=``/``!=``, ``and``/``or``/``not``, parentheses; anything else is a
400 "Invalid Value", like Drive. ``parse_fields`` and ``select`` give back only what ``fields`` asks for.
"""
from __future__ import annotations

import copy
import re

from .google_wire import invalid_value


# ---------------------------------------------------------------------------- Drive's query language

_TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<op>!=|<=|>=|=|<|>)|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<quote>'))")
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")


def tokenize(q: str) -> list[tuple[str, str]]:
    """[(kind, value)] with kind in paren/op/word/string; GoogleError 400 on anything malformed."""
    tokens, i = [], 0
    while True:
        while i < len(q) and q[i].isspace():
            i += 1
        if i >= len(q):
            return tokens
        match = _TOKEN.match(q, i)
        if not match:
            raise invalid_value("q")
        i = match.end()
        if match.group("quote"):
            chars = []
            while True:
                if i >= len(q):
                    raise invalid_value("q")  # unterminated string
                c = q[i]
                if c == "\\":
                    if i + 1 >= len(q) or q[i + 1] not in "\\'":
                        raise invalid_value("q")
                    chars.append(q[i + 1])
                    i += 2
                elif c == "'":
                    i += 1
                    break
                else:
                    chars.append(c)
                    i += 1
            tokens.append(("string", "".join(chars)))
        else:
            kind = match.lastgroup
            tokens.append((kind, match.group(kind)))


def _words(text: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(text.lower()) if w]


def name_contains(name: str, value: str) -> bool:
    """Prefix matching on the words of the name: 'Hello' finds "HelloWorld", 'World' does not."""
    name, value = name.lower(), value.lower()
    start = name.find(value)
    while start != -1:
        if start == 0 or not name[start - 1].isalnum():
            return True
        start = name.find(value, start + 1)
    return False


def full_text_contains(text: str, value: str) -> bool:
    """Whole words, in order: 'road' does not find "roadmap"."""
    wanted, words = _words(value), _words(text)
    if not wanted:
        return True
    return any(words[i:i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


class _QueryParser:
    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def peek(self):
        return self.tokens[self.i] if self.i < len(self.tokens) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None or (kind and tok[0] != kind) or (value and tok[1] != value):
            raise invalid_value("q")
        self.i += 1
        return tok

    def parse(self):
        expr = self.or_expr()
        if self.i != len(self.tokens):
            raise invalid_value("q")
        return expr

    def or_expr(self):
        parts = [self.and_expr()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda f, ps=parts: any(p(f) for p in ps))

    def and_expr(self):
        parts = [self.unary()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda f, ps=parts: all(p(f) for p in ps))

    def unary(self):
        tok = self.peek()
        if tok == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda f: not inner(f)
        if tok == ("paren", "("):
            self.take()
            inner = self.or_expr()
            self.take("paren", ")")
            return inner
        return self.comparison()

    def comparison(self):
        _, name = self.take("word")
        kind, op = self.peek()
        if kind == "word" and op == "contains":
            self.take()
        else:
            _, op = self.take("op")
        value_kind, value = self.take()
        if name in ("name", "fullText", "mimeType"):
            if value_kind != "string":
                raise invalid_value("q")
            if name == "name" and op == "contains":
                return lambda f: name_contains(f["name"], value)
            if name == "fullText" and op == "contains":
                return lambda f: full_text_contains(f["name"] + "\n" + f["_text"], value)
            if name in ("name", "mimeType") and op in ("=", "!="):
                return lambda f: (f[name] == value) == (op == "=")
        if name == "trashed" and op in ("=", "!=") and value_kind == "word" and value in ("true", "false"):
            return lambda f: (f["trashed"] == (value == "true")) == (op == "=")
        raise invalid_value("q")


def parse_query(q: str):
    """A predicate over stored files; GoogleError 400 "Invalid Value" when Drive would refuse ``q``."""
    return _QueryParser(tokenize(q)).parse()


# ---------------------------------------------------------------------------- partial responses (fields=)


def parse_fields(text: str) -> dict:
    """``files(id,permissions(type)),nextPageToken`` -> {"files": {"id": True, "permissions": {"type": True}}, ...}."""
    pos = 0

    def items(depth):
        nonlocal pos
        out = {}
        while True:
            match = re.compile(r"\s*([A-Za-z_*][A-Za-z0-9_]*)\s*").match(text, pos)
            if not match:
                raise invalid_value("fields")
            pos = match.end()
            key = match.group(1)
            if pos < len(text) and text[pos] == "(":
                pos += 1
                out[key] = items(depth + 1)
                if pos >= len(text) or text[pos] != ")":
                    raise invalid_value("fields")
                pos += 1
            else:
                out[key] = True
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            if depth == 0 and pos != len(text):
                raise invalid_value("fields")
            return out

    return items(0)


def select(value, selection):
    if selection is True or selection.get("*") is True:
        return copy.deepcopy(value)
    if isinstance(value, list):
        return [select(v, selection) for v in value]
    if not isinstance(value, dict):
        return copy.deepcopy(value)
    return {k: select(value[k], sub) for k, sub in selection.items() if k in value}
