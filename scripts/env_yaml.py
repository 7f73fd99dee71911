"""Prints `export KEY=value` lines for a flat .env.yaml (the --env-vars-file format).

Only flat `KEY: value` pairs are allowed there, so a tiny parser suffices and
the runtime needs no YAML library.
"""
import shlex
import sys


def parse(text: str) -> dict[str, str]:
    values = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition(":")
        if not sep or not key.strip().isidentifier():
            sys.exit(f".env.yaml line {number}: expected KEY: value")
        value = value.strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


if __name__ == "__main__":
    for key, value in parse(open(sys.argv[1], encoding="utf-8").read()).items():
        print(f"export {key}={shlex.quote(value)}")
