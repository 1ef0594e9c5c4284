#!/usr/bin/python3
"""Smoke test of the `sigbench` load generator against the real sigstreamd.

    SIGSBENCH=build/tools/sigbench SIGSTREAMD=build/server/sigstreamd \\
        SIGSTREAM_SOURCE_ROOT=. /usr/bin/python3 test/e2e/test_sigbench.py -v

Functional only, so the benchmark tool cannot rot: a short run must print a
summary line that parses, deliver signals with no gap and no error, and
--json must print one JSON object with the same figures. It asserts nothing
about performance (the machine may be loaded, the server sanitized).
"""

import json
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402
from harness import Server  # noqa: E402

SUMMARY_RE = re.compile(
    r"^streams=(?P<streams>\d+) msgs=(?P<msgs>\d+) rate=(?P<rate>[\d.]+)/s"
    r" p50_us=(?P<p50>[\d.]+) p90_us=(?P<p90>[\d.]+) p99_us=(?P<p99>[\d.]+)"
    r" p999_us=(?P<p999>[\d.]+) max_us=(?P<max>[\d.]+) gaps=(?P<gaps>\d+)"
    r" errors=(?P<errors>\d+) cut=(?P<cut>\d+) messages=(?P<messages>\d+)"
    r" client_cpu_us_per_msg=(?P<cpu>[\d.]+|-)"
    r" first_msg_p50_us=(?P<first_p50>[\d.]+) first_msg_max_us=(?P<first_max>[\d.]+)$")


def sigbench_binary():
    exe = os.environ.get("SIGSBENCH")
    if not exe:
        raise RuntimeError("SIGSBENCH is not set (path of the sigbench binary)")
    exe = os.path.abspath(exe)
    if not os.access(exe, os.X_OK):
        raise RuntimeError("SIGSBENCH=%s is not an executable file" % exe)
    return exe


def run_sigbench(args, timeout=60.0):
    """(returncode, stdout, stderr) of one bounded sigbench run."""
    proc = subprocess.run([sigbench_binary()] + [str(a) for a in args],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)
    err = proc.stderr.decode(errors="replace")
    h.check_sanitizers(err, "sigbench %r" % (args,))
    return proc.returncode, proc.stdout.decode(errors="replace"), err


class SigbenchTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sigbench_binary()
        cls.server = Server(["--rate", "2000", "--symbols", "20"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def run_ok(self, extra):
        args = ["--server", self.server.target, "--streams", "4", "--conns", "2",
                "--warmup", "0.5", "--duration", "1"] + extra
        rc, out, err = run_sigbench(args)
        self.assertEqual(rc, 0, "sigbench %r exited %r\n--- stderr ---\n%s\n--- stdout ---\n%s"
                         % (args, rc, err[-3000:], out[-1500:]))
        return out, err

    def summary(self, extra):
        out, err = self.run_ok(extra)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, "one summary line expected: %r" % out)
        m = SUMMARY_RE.match(lines[0])
        self.assertIsNotNone(m, "summary does not parse: %r\nstderr: %s" % (lines[0], err))
        return m, err

    def test_summary_unfiltered(self):
        m, err = self.summary([])
        self.assertEqual(int(m["streams"]), 4)
        self.assertGreater(int(m["msgs"]), 0, err)
        self.assertEqual(int(m["messages"]), int(m["msgs"]))  # one signal per message
        self.assertEqual(int(m["gaps"]), 0, err)
        self.assertEqual(int(m["errors"]), 0, err)
        self.assertEqual(int(m["cut"]), 0, err)
        self.assertGreater(float(m["rate"]), 0)
        self.assertLessEqual(float(m["p50"]), float(m["p99"]))
        self.assertLessEqual(float(m["p99"]), float(m["max"]))
        self.assertNotEqual(m["cpu"], "-")
        self.assertGreater(float(m["first_p50"]), 0)
        self.assertLessEqual(float(m["first_p50"]), float(m["first_max"]))

    def test_summary_batches(self):
        m, err = self.summary(["--batches"])
        self.assertGreater(int(m["msgs"]), 0, err)
        self.assertGreater(int(m["messages"]), 0, err)
        self.assertLessEqual(int(m["messages"]), int(m["msgs"]))
        self.assertEqual(int(m["gaps"]), 0, err)
        self.assertEqual(int(m["errors"]), 0, err)

    def test_batches_with_linger(self):
        out, err = self.run_ok(["--batches", "--linger", "50", "--json"])
        obj = json.loads(out)
        self.assertEqual(obj["method"], "StreamSignalBatches")
        self.assertEqual(obj["linger_ms"], 50)
        self.assertGreater(obj["msgs"], 0, err)
        self.assertEqual(obj["gaps"], 0, err)
        self.assertEqual(obj["errors"], 0, err)
        # Signals held up to 50 ms travel many to a message.
        self.assertGreater(obj["msgs"], 5 * obj["messages"], out)

    def test_summary_one_symbol(self):
        m, err = self.summary(["--filter", "one-symbol", "--symbols", "20"])
        self.assertGreater(int(m["msgs"]), 0, err)
        self.assertEqual(int(m["gaps"]), 0, err)
        self.assertEqual(int(m["errors"]), 0, err)

    def test_json(self):
        out, err = self.run_ok(["--json", "--sample", "2"])
        obj = json.loads(out)
        self.assertEqual(obj["streams"], 4)
        self.assertEqual(obj["method"], "StreamSignals")
        self.assertGreater(obj["msgs"], 0, err)
        self.assertEqual(obj["gaps"], 0, err)
        self.assertEqual(obj["errors"], 0, err)
        self.assertEqual(obj["errors_by_code"], {})
        self.assertEqual(obj["started"], 4)
        # Every second delivery is sampled.
        self.assertLessEqual(abs(obj["latency_samples"] - obj["msgs"] // 2), 4)
        for k in ("rate", "p50_us", "p90_us", "p99_us", "p999_us", "max_us",
                  "client_cpu_us_per_msg", "window_s", "first_msg_p50_us", "first_msg_max_us"):
            self.assertIsInstance(obj[k], (int, float), k)
        # Every stream got a first message, after some time, the slowest last.
        self.assertGreater(obj["first_msg_p50_us"], 0)
        self.assertGreaterEqual(obj["first_msg_max_us"], obj["first_msg_p50_us"])

    def test_refused_streams_are_errors(self):
        # A name the contract rejects would be refused by sigbench itself;
        # an unknown method is not available, so ask for more streams than
        # the server allows instead.
        with Server(["--rate", "1000", "--max-streams", "2"]) as srv:
            rc, out, err = run_sigbench(["--server", srv.target, "--streams", "4",
                                         "--conns", "1", "--warmup", "0.3",
                                         "--duration", "0.5", "--json"])
        self.assertEqual(rc, 0, err)
        obj = json.loads(out)
        self.assertEqual(obj["errors"], 2, out)
        self.assertIn("RESOURCE_EXHAUSTED", obj["errors_by_code"], out)
        self.assertIn("RESOURCE_EXHAUSTED", err)

    def test_bad_flag(self):
        for args, needle in ((["--filter", "bogus"], "--filter"),
                             (["--batches", "--linger", "1001"], "--linger"),
                             (["--linger", "20"], "--batches")):
            with self.subTest(args=args):
                rc, _, err = run_sigbench(args)
                self.assertEqual(rc, 2)
                self.assertIn(needle, err)


if __name__ == "__main__":
    unittest.main()
