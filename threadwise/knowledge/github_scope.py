"""A search_github query kept inside GITHUB_ORG, whatever the model wrote.

GitHub ORs scope qualifiers (``org:``/``user:``/``owner:``/``repo:``) together, and its issue search
reads ``OR``, ``AND``, ``NOT`` and parentheses: one qualifier or one ``OR`` written by the model (or by a
document the model read) would widen a search otherwise kept to the org. So, when GITHUB_ORG is set:

- every scope qualifier is removed wherever it stands (after a parenthesis, inside a quoted phrase,
  in any case, with a quoted value), except a ``repo:ORG/name`` and an exclusion (``-repo:…``), which
  only narrow a search that is a conjunction;
- the boolean operators and the parentheses are removed, so that what is left *is* a conjunction: every
  word, phrase and qualifier must match, ``org:ORG`` among them;
- a quote left open is closed, so that it cannot swallow the ``org:`` added after it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# A scope qualifier anywhere a word can start (not inside "myrepo:"), with a bare, quoted or half-quoted value.
_SCOPE = re.compile(r'(?<![A-Za-z0-9_])(-?)(org|user|owner|repo):("[^"]*"?|[^\s()"]*)', re.IGNORECASE)
# A query's pieces: a "phrase" (perhaps left open), a parenthesis, or a word that may end in a quoted value.
_PIECE = re.compile(r'"[^"]*"?|[()]|[^\s"()]+(?:"[^"]*"?)?')
_OPERATORS = ("OR", "AND", "NOT")
_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+")  # GitHub's characters for a repository name


@dataclass(frozen=True)
class Scoped:
    q: str                        # what is sent to GitHub
    dropped: tuple[str, ...]      # the model's qualifiers that pointed outside the org, to tell the model
    operators_dropped: bool = False  # OR/AND/NOT or parentheses were left out


def scoped(query: str, org: str | None) -> Scoped:
    """``query`` as written when no org is set; otherwise kept to ``org`` (see the module's docstring)."""
    if not org:
        return Scoped(query, ())
    dropped: list[str] = []
    kept_repo = operators = False

    def drop(match: re.Match) -> str:
        owner = match.group(3).strip('"').partition("/")[0]
        if match.group(2).lower() == "repo" or owner.lower() != org.lower():
            dropped.append(match.group(0))  # (org:ORG itself is added again below: not worth a note)
        return " "

    pieces = []
    for piece in _PIECE.findall(query):
        if piece in ("(", ")") or piece.upper() in _OPERATORS:
            operators = True
            continue
        qualifier = _SCOPE.fullmatch(piece)
        if qualifier and _narrows(qualifier, org):
            kept_repo = kept_repo or not qualifier.group(1)
            pieces.append(piece)
            continue
        # Anywhere else (a phrase, a label's value, after a comma) it is not a scope GitHub would read,
        # but it goes too: one parser's text can be another's qualifier.
        piece = _SCOPE.sub(drop, piece)
        if piece.startswith('"'):  # a phrase: its words, quoted again (and so closed, if it was left open)
            words = piece.replace('"', " ").split()
            piece = f'"{" ".join(words)}"' if words else ""
        elif piece.count('"') % 2:
            piece += '"'  # an open quote would take the org: added after it into its phrase
        # (A lone "-" would negate whatever comes next: the org: at the end, say.)
        words = re.split(r'\s+(?=(?:[^"]*"[^"]*")*[^"]*$)', piece)  # at the spaces outside quotes
        pieces.extend(" ".join(word.split()) for word in words if word.strip("-"))
    rest = " ".join(pieces)
    # org: together with repo:ORG/x would widen the search back to the whole org (GitHub ORs them).
    return Scoped(rest if kept_repo else f"{rest} org:{org}".strip(), tuple(dropped), operators)


def _narrows(qualifier: re.Match, org: str) -> bool:
    """An exclusion (``-repo:x``), or ``repo:ORG/name``: kept, as each only narrows a conjunction."""
    negated, key, value = qualifier.group(1), qualifier.group(2).lower(), qualifier.group(3)
    if value.count('"') % 2 or not value.strip('"'):
        return False  # an open quote would take the org: added after it into its value
    owner, _, name = value.strip('"').partition("/")
    return bool(negated) or (key == "repo" and owner.lower() == org.lower() and bool(_REPO_NAME.fullmatch(name)))
