"""``python -m tests.harness up DIR`` / ``down DIR``: the test bed by hand or for benchmarks.

``up`` prints the test bed as JSON (the same document as ``DIR/testbed.json``); ``down`` prints
the PIDs it stopped. Both exit non-zero with a message on stderr when they fail.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from tests.harness.errors import HarnessError
from tests.harness.testbed import start_testbed, stop_state_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harness", description=__doc__)
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("state_dir", type=Path)
    parser.add_argument(
        "--services-only", action="store_true", help="up: start the services, build no scenarios"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if args.action == "up":
            testbed = start_testbed(args.state_dir, with_scenarios=not args.services_only)
            document = {**testbed.to_json(), "pids": testbed.pids()}
        else:
            document = {"stopped": stop_state_dir(args.state_dir)}
    except HarnessError as error:
        print(f"{args.action} failed: {error}", file=sys.stderr)
        return 1
    document["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
