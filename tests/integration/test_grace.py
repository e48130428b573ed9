# SPDX-License-Identifier: MIT
"""VersionDisableGraceSec= end to end (cmk-rules.md U5): after a rotation the service re-wraps
with the new version in its own time; disabling the version that was current before, within
the grace period, is as bad as disabling the version in use. Scenario grace.json: key
'recent' rotated 30 min ago, key 'older' 3 h ago, both with the previous version disabled.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture, finding_set, requests  # noqa: E402


class GraceTest(unittest.TestCase):
    def test_previous_version_disabled_within_grace(self):
        with Fixture("grace") as fx:
            run = fx.once()
            self.assertEqual(run.returncode, 2, run.describe())
            recent = run.cluster("rot-recent")
            self.assertEqual(finding_set(recent), {"key-disabled:critical"}, run.describe())
            msg = recent["findings"][0]["message"]
            self.assertIn("was current until the rotation", msg)
            self.assertIn("--enabled true", msg)
            self.assertEqual(finding_set(run.cluster("rot-old")), set(), run.describe())
            # The versions are read only for the key rotated inside the grace period.
            self.assertEqual(len(requests(run.log, path_re=r"/keys/recent/versions$")), 1)
            self.assertEqual(len(requests(run.log, path_re=r"/keys/older/versions$")), 0)

    def test_grace_off(self):
        with Fixture("grace", sections={"Policy": {"VersionDisableGraceSec": "0"}}) as fx:
            run = fx.once()
            self.assertEqual(run.returncode, 0, run.describe())
            self.assertEqual(finding_set(run.cluster("rot-recent")), set())
            self.assertEqual(requests(run.log, path_re=r"/versions$"), [])


if __name__ == "__main__":
    unittest.main()
