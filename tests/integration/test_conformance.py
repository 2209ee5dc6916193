"""The OCI distribution-spec conformance suite against envcache mirroring docker-registry.

The suite's own setup specs seed the upstream (a mirror takes no pushes); its pull and
content-discovery workflows then run against envcache on that existing content. Any failed
spec fails the test, except the referrer specs listed in KNOWN_FAILURES: they read what the
references setup pushed through the upstream's referrers API, which docker-registry 2.8 does
not have (envcache's answer from the referrers tag schema finds no tag there either, because
the suite pushes none).

The suite is a test binary built from the distribution-spec repository (v1.1.1); it is found
at $ENVCACHE_OCI_CONFORMANCE, else at ../shared/conformance/oci-conformance.test beside the
repository. Without it the test skips, saying where it looked.
"""

import json
import os
import subprocess
import unittest
import xml.etree.ElementTree as ET

import fixtures as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SUITE = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "conformance", "oci-conformance.test")
)
NAMESPACE = "conformance/pull"
TAG_LIST = ["test0", "test1", "test2", "test3"]
TAG_NAME = "tagtest0"
SUITE_TIMEOUT_S = 240

# Spec names (the suite's containers and leaf, joined by spaces) that may fail, and why.
LISTING_REFERENCES = ("OCI Distribution Conformance Tests Content Discovery Test content "
                      "discovery endpoints (listing references) ")
KNOWN_FAILURES = {
    LISTING_REFERENCES + "GET request to existing blob should yield 200":
    "the referrers the references setup pushed: needs the upstream referrers API",
    LISTING_REFERENCES + "GET request to existing blob with filter should yield 200":
    "the same, filtered by artifactType: needs the upstream referrers API",
    LISTING_REFERENCES + "GET request to missing manifest should yield 200":
    "referrers of a subject never pushed: needs the upstream referrers API",
}
WORKFLOW_PREFIX = "OCI Distribution Conformance Tests "


def suite_binary():
    path = os.environ.get("ENVCACHE_OCI_CONFORMANCE") or DEFAULT_SUITE
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(
            "the OCI conformance suite binary is not at %s (set ENVCACHE_OCI_CONFORMANCE)" % path
        )
    return path


def junit_results(report_dir):
    """[(name, 'pass'|'fail'|'skip', message)] from the suite's junit.xml."""
    root = ET.parse(os.path.join(report_dir, "junit.xml")).getroot()
    out = []
    for case in root.iter("testcase"):
        name = case.get("name", "")
        if not name.startswith(("[It] " + WORKFLOW_PREFIX, WORKFLOW_PREFIX)):
            continue  # the suite's own report writers
        for prefix in ("[It] ", "[BeforeSuite] ", "[AfterSuite] "):
            if name.startswith(prefix):
                name = name[len(prefix):]
        failed = case.find("failure")
        if failed is None:
            failed = case.find("error")
        if failed is not None:
            out.append((name, "fail", (failed.get("message") or failed.text or "").strip()))
        elif case.find("skipped") is not None:
            out.append((name, "skip", ""))
        else:
            out.append((name, "pass", ""))
    return out


class Conformance(F.EnvcacheTestCase):
    def setUp(self):
        super().setUp()
        self.suite = suite_binary()
        self.workdir = self.make_workdir()
        self.registry = self.start_registry(self.workdir)

    def run_suite(self, label, root_url, variables, ginkgo_args):
        report = os.path.join(self.workdir, "report-" + label)
        os.makedirs(report, exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "OCI_ROOT_URL": root_url,
                "OCI_NAMESPACE": NAMESPACE,
                "OCI_CROSSMOUNT_NAMESPACE": "conformance/mount",
                "OCI_HIDE_SKIPPED_WORKFLOWS": "1",
                "OCI_REPORT_DIR": report,
            }
        )
        env.update(variables)
        proc = subprocess.run(
            [self.suite, "-ginkgo.no-color", "-ginkgo.timeout=3m"] + ginkgo_args,
            cwd=report,
            env=env,
            capture_output=True,
            timeout=SUITE_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        self._logs.append(("conformance " + label, lambda: output))
        if not os.path.exists(os.path.join(report, "junit.xml")):
            self.fail("the suite wrote no junit.xml (%s):\n%s" % (label, output[-4000:]))
        return junit_results(report)

    def seed_upstream(self):
        upstream = "http://" + self.registry.hostport
        pull = self.run_suite("seed-pull", upstream, {"OCI_TEST_PULL": "1"},
                              ["-ginkgo.focus=Pull Setup"])
        discovery = self.run_suite("seed-discovery", upstream, {"OCI_TEST_CONTENT_DISCOVERY": "1"},
                                   ["-ginkgo.focus=Content Discovery.*Setup"])
        # The references setup fails on docker-registry (no OCI-Subject answer to a push with
        # a subject); what it pushed stays, and the rest must have worked.
        for name, state, message in pull + discovery:
            if state == "fail" and not name.endswith("References setup"):
                self.fail("seeding the upstream failed: %s: %s" % (name, message))

    def tagged_content(self):
        status, headers, body = F.http_request(
            self.registry.port, "GET", "/v2/%s/manifests/%s" % (NAMESPACE, TAG_NAME),
            {"Accept": F.OCI_MANIFEST},
        )
        self.assertEqual(status, 200, body[:300])
        manifest = json.loads(body)
        return headers["docker-content-digest"], manifest["config"]["digest"]

    def report(self, workflow, results):
        """Prints and returns the pass / fail / skip counts of one workflow's specs."""
        mine = [(n, st, m) for n, st, m in results if n.startswith(WORKFLOW_PREFIX + workflow + " ")]
        counts = {state: sum(1 for _, s, _ in mine if s == state) for state in ("pass", "fail", "skip")}
        print("\n%s: %d passed, %d failed, %d skipped; %d specs of other workflows not run"
              % (workflow, counts["pass"], counts["fail"], counts["skip"], len(results) - len(mine)))
        for name, state, message in mine:
            if state == "fail":
                why = KNOWN_FAILURES.get(name, "UNEXPECTED: " + message[:300])
                print("  failed: %s (%s)" % (name[len(WORKFLOW_PREFIX):], why))
            elif state == "skip":
                why = "delete" if "Teardown" in name else "push, done against the upstream"
                print("  skipped: %s (%s)" % (name[len(WORKFLOW_PREFIX):], why))
        return counts

    def test_pull_and_content_discovery_workflows_pass_through_the_mirror(self):
        self.seed_upstream()
        manifest_digest, config_digest = self.tagged_content()
        cache = self.start_envcache(self.workdir, "http://" + self.registry.hostport)
        mirror = "http://" + cache.hostport
        # The set-up specs that push, and the teardown that deletes: they ran (set-up) against
        # the upstream. The set-up specs that read the content from the environment still run.
        skip = ["-ginkgo.skip=Populate registry with test (blob|layer|manifest|tags)$"
                "|References setup|Teardown"]
        pull = self.run_suite("pull", mirror, {
            "OCI_TEST_PULL": "1",
            "OCI_TAG_NAME": TAG_NAME,
            "OCI_MANIFEST_DIGEST": manifest_digest,
            "OCI_BLOB_DIGEST": config_digest,
        }, skip)
        discovery = self.run_suite("content-discovery", mirror, {
            "OCI_TEST_CONTENT_DISCOVERY": "1",
            "OCI_TAG_LIST": ",".join(TAG_LIST),
        }, skip)
        pull_counts = self.report("Pull", pull)
        discovery_counts = self.report("Content Discovery", discovery)
        unexpected = [(name, message) for name, state, message in pull + discovery
                      if state == "fail" and name not in KNOWN_FAILURES]
        self.assertEqual(unexpected, [])
        # The workflows really ran: the pull specs, and the tag listing specs.
        self.assertGreaterEqual(pull_counts["pass"], 13)
        self.assertGreaterEqual(discovery_counts["pass"], 4)


if __name__ == "__main__":
    unittest.main()
