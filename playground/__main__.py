"""``python -m playground [--port N]``: the offline playground on http://127.0.0.1:N/ (default: PORT, 8080)."""
import argparse

from threadwise.config import ConfigError
from threadwise.config.local import local_run
from playground.app import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m playground", description=__doc__)
    parser.add_argument("--port", type=int, help="the page's port (0: any free port)")
    args = parser.parse_args()
    try:
        port = local_run().port if args.port is None else args.port
    except ConfigError as error:
        parser.exit(2, f"{error}\n")
    run(port)


if __name__ == "__main__":
    main()
