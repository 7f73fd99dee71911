"""Per-module mutation score from mutmut's results in ./mutants, and every mutant that was not killed.

Run by ./scripts/mutants with the venv that has mutmut (.venv-mutants); reads mutmut's own files.
"""
from __future__ import annotations

import sys
from collections import Counter

from mutmut.mutation.data import SourceFileMutationData
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files

# A mutant the tests noticed: they failed, or never finished (a changed loop that no longer ends).
CAUGHT = {"killed", "timeout", "caught by type check"}


def main() -> int:
    total = Counter()
    rows, survivors = [], []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        statuses = {name: status_by_exit_code[code] for name, code in data.exit_code_by_key.items()}
        caught = sum(status in CAUGHT for status in statuses.values())
        rows.append((str(path), caught, len(statuses)))
        total.update(caught=caught, all=len(statuses))
        survivors += [(name, status) for name, status in sorted(statuses.items())
                      if status not in CAUGHT and status != "not checked"]
        total.update(unchecked=sum(status == "not checked" for status in statuses.values()))
    width = max(len(row[0]) for row in rows)
    print(f"\n{'module':<{width}}  killed/total  score")
    for path, caught, count in rows + [("all", total["caught"], total["all"])]:
        score = f"{100 * caught / count:5.1f} %" if count else "    –"
        print(f"{path:<{width}}  {caught:>6}/{count:<5}  {score}")
    if total["unchecked"]:
        print(f"\nnot checked in this run (a selection of mutants was asked for): {total['unchecked']}")
    if survivors:
        print(f"\nnot killed ({len(survivors)}):")
        for name, status in survivors:
            print(f"  {name}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
