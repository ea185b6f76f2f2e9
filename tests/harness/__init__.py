"""Real Notary v1 + registry test bed for kenner's integration tests.

Starts notary-signer, notary-server (remote trust service over mTLS) and docker-registry on
127.0.0.1, pushes tiny images with skopeo, signs them with the real notary client and records,
per case, the outcome known from construction. See docs/testing.md.

    testbed = start_testbed(tmp_path)     # or: with running_testbed(tmp_path) as testbed:
    case = testbed.case("signed/v1/trusted-root")
    testbed.stop()
"""

from tests.harness.errors import HarnessError, TestbedUnavailable
from tests.harness.model import TRUSTED_ROOT, Case, Reason, Verdict
from tests.harness.registry import Served
from tests.harness.scenarios import CASE_IDS
from tests.harness.testbed import (
    Testbed,
    load_testbed,
    running_testbed,
    start_testbed,
    stop_state_dir,
)

__all__ = [
    "CASE_IDS",
    "TRUSTED_ROOT",
    "Case",
    "HarnessError",
    "Reason",
    "Served",
    "Testbed",
    "TestbedUnavailable",
    "Verdict",
    "load_testbed",
    "running_testbed",
    "start_testbed",
    "stop_state_dir",
]
