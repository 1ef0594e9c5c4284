#!/usr/bin/python3
"""End-to-end tests of the `sigstream` CLI against the real sigstreamd.

    SIGSTREAM_CLI=build/client/sigstream SIGSTREAMD=build/server/sigstreamd \\
        SIGSTREAM_SOURCE_ROOT=. /usr/bin/python3 test/e2e/test_cli.py -v [Class[.test]]

What is checked is what a user relies on: every format parses with a
standard parser, filters and --from do what they say, --count/--duration
end with 0, the stream survives a server restart on the same port and says
why on stderr, a slow reader never loses signals silently, bad flags are
refused (exit 2) before any connection, a dead server ends with exit 5,
`| head -3` ends quietly with 0, and the documented exit codes for server
errors (3, 4, 6, 7) -- the last ones against a small grpcio stand-in server
that misbehaves on purpose.

Timing bounds are generous: the suite also runs against ASan+UBSan builds on
loaded 2-core machines.
"""

import csv
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent import futures

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402  (Debian's python3-grpcio)

import harness as h  # noqa: E402
from harness import Server  # noqa: E402

JSON_KEYS = {"sequence", "symbol", "side", "strength", "price", "timestamp_ns", "strategy"}
CSV_HEADER = ["sequence", "symbol", "side", "strength", "price", "timestamp_ns", "strategy"]
LOST_RE = re.compile(r"lost_sequences=(\d+)\.\.(\d+)")
TEXT_RE = re.compile(
    r"^ *(\d+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)  ([A-Za-z0-9._:/-]+) +"
    r"(BUY|SELL) +(\d\.\d{4}) +(-?\d+\.\d{4})  (\S+)$")


def cli_binary():
    exe = os.environ.get("SIGSTREAM_CLI")
    if not exe:
        raise RuntimeError("SIGSTREAM_CLI is not set (path of the sigstream binary)")
    exe = os.path.abspath(exe)
    if not os.access(exe, os.X_OK):
        raise RuntimeError("SIGSTREAM_CLI=%s is not an executable file" % exe)
    return exe


def cli_env(extra=None):
    """Our environment minus SIGSTREAM_* (a developer's SIGSTREAM_SERVER must
    not redirect the tests), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGSTREAM_")}
    env.update(extra or {})
    return env


def free_port():
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(args, timeout=30.0, env=None):
    """Runs sigstream to completion: (returncode, stdout, stderr, seconds)."""
    argv = [cli_binary()] + [str(a) for a in args]
    t0 = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=cli_env(env), timeout=timeout)
    err = proc.stderr.decode(errors="replace")
    h.check_sanitizers(err, "sigstream %r" % (args,))
    return proc.returncode, proc.stdout.decode(errors="replace"), err, time.monotonic() - t0


class Cli:
    """A running sigstream whose stdout and stderr go to files, so that it
    never blocks on a pipe and the test can look at its output while it runs."""

    def __init__(self, args, env=None):
        self.args = [str(a) for a in args]
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([cli_binary()] + self.args, stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, env=cli_env(env))

    def _read(self, f):
        # pread: the file offset is shared with the child; moving it would make
        # the child write over what it wrote before.
        fd = f.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def stdout(self):
        return self._read(self._out)

    def stderr(self):
        return self._read(self._err)

    def lines(self):
        """Complete stdout lines so far (a line being written is left out)."""
        text = self.stdout()
        return text[:text.rfind("\n") + 1].splitlines()

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            if self.proc.poll() is not None and not pred():
                break
            time.sleep(0.05)
        if pred():
            return
        raise AssertionError("%s: not within %.0f s (sigstream %s)\n--- stderr ---\n%s\n"
                             "--- stdout tail ---\n%s" % (
                                 what, timeout,
                                 "exited %r" % self.proc.poll() if self.proc.poll() is not None
                                 else "running", self.stderr()[-3000:], self.stdout()[-1500:]))

    def wait_lines(self, n, timeout=20.0):
        self.wait_for(lambda: len(self.lines()) >= n, timeout, "%d lines of output" % n)

    def send(self, sig):
        self.proc.send_signal(sig)

    def finish(self, sig=signal.SIGINT, timeout=15.0):
        """Sends `sig` (None: none) and waits for the exit; returns the code."""
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError("sigstream did not exit within %.0f s; stderr:\n%s" % (
                timeout, self.stderr()[-3000:]))
        h.check_sanitizers(self.stderr(), "sigstream %r" % (self.args,))
        return code

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._out.close()
        self._err.close()


def json_sequences(lines):
    out = []
    for i, line in enumerate(lines):
        try:
            out.append(json.loads(line)["sequence"])
        except ValueError as e:
            raise AssertionError("line %d is not JSON (%s): %r\nlines around it: %r" % (
                i + 1, e, line, lines[max(0, i - 2):i + 3])) from None
    return out


class CliTestCase(unittest.TestCase):
    server_args = None  # a sigstreamd shared by the class, when set

    @classmethod
    def setUpClass(cls):
        cli_binary()
        cls.server = Server(cls.server_args).start() if cls.server_args is not None else None

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            srv, cls.server = cls.server, None
            srv.__exit__(None, None, None)

    def cli(self, args, env=None):
        c = Cli(args, env)
        self.addCleanup(c.close)
        return c

    def assert_exit(self, res, code):
        rc, out, err, _ = res
        self.assertEqual(rc, code, "exit %r, expected %r\n--- stderr ---\n%s\n--- stdout ---\n%s"
                         % (rc, code, err[-3000:], out[-1500:]))

    def assert_no_silent_gaps(self, seqs, stderr, what="output"):
        """Every jump in an unfiltered stream's sequences must be a range that
        stderr reported lost."""
        # Adjacent reports join up: resuming at the oldest retained can find
        # it overwritten already, and the next report starts where one ended.
        lost = set()
        for a, b in sorted((int(a), int(b)) for a, b in LOST_RE.findall(stderr)):
            joined = [r for r in lost if r[1] + 1 == a]
            if joined:
                lost.discard(joined[0])
                a = joined[0][0]
            lost.add((a, b))
        for prev, cur in zip(seqs, seqs[1:]):
            self.assertGreater(cur, prev, "%s: sequence went back %d -> %d" % (what, prev, cur))
            if cur != prev + 1:
                self.assertIn((prev + 1, cur - 1), lost,
                              "%s: %d..%d missing and not reported on stderr:\n%s" % (
                                  what, prev + 1, cur - 1, stderr[-3000:]))


class UsageTests(CliTestCase):
    """Help, version and flag checking: no server needed, nothing connects."""

    def test_help_and_version(self):
        for args in (["--help"], ["-h"], ["subscribe", "--help"], ["stats", "--help"],
                     ["help", "subscribe"]):
            res = run_cli(args)
            self.assert_exit(res, 0)
            self.assertIn("Usage: sigstream", res[1])
            self.assertIn("Exit status", res[1])
        self.assertIn("--format", run_cli(["subscribe", "--help"])[1])
        self.assertIn("p999", run_cli(["stats", "--help"])[1].replace("p99.9", "p999"))
        res = run_cli(["--version"])
        self.assert_exit(res, 0)
        self.assertRegex(res[1], r"^sigstream \d+\.\d+\.\d+\n$")

    def test_bad_flags_exit_2_before_connecting(self):
        # An unreachable server with a long --retry-for: a client that tried
        # to connect first would take 30 s, not fail at once.
        base = ["--server", "127.0.0.1:%d" % free_port(), "--retry-for", "30"]
        cases = [
            (["subscribe", "--min-strength", "abc"], "--min-strength"),
            (["subscribe", "--min-strength", "3"], "--min-strength"),
            (["subscribe", "--min-strength", "nan"], "--min-strength"),
            (["subscribe", "--symbols", "AAPL,BAD!"], "--symbols"),
            (["subscribe", "--symbols", "A,,B"], "--symbols"),
            (["subscribe", "--symbols", "WAY_TOO_LONG_SYMBOL"], "--symbols"),
            (["subscribe", "--symbols", ",".join("S%d" % i for i in range(65))], "--symbols"),
            (["subscribe", "--strategies", "bad strategy"], "--strategies"),
            (["subscribe", "--format", "xml"], "--format"),
            (["subscribe", "--count", "0"], "--count"),
            (["subscribe", "--count", "-1"], "--count"),
            (["subscribe", "--duration", "soon"], "--duration"),
            (["subscribe", "--heartbeat", "50"], "--heartbeat"),
            (["subscribe", "--batches", "--linger", "1001"], "--linger"),
            (["subscribe", "--linger", "50"], "--batches"),
            (["subscribe", "--from", "12abc"], "--from"),
            (["subscribe", "--on-gap", "ignore"], "--on-gap"),
            (["subscribe", "--retry-for", "-1"], "--retry-for"),
            (["subscribe", "--count"], "--count"),
            (["subscribe", "--nope"], "--nope"),
            (["stats", "--format", "json"], "--format"),
            (["frobnicate"], "frobnicate"),
            ([], "command"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                full = args[:1] + base + args[1:] if args and args[0] in (
                    "subscribe", "stats") else args
                res = run_cli(full, timeout=20)
                self.assert_exit(res, 2)
                self.assertIn(needle, res[2])
                self.assertEqual(res[1], "", "nothing on stdout for a usage error")
                self.assertLess(res[3], 5.0, "a usage error must not wait for a connection")

    def test_env_is_checked_too(self):
        res = run_cli(["subscribe", "--count", "1"], env={"SIGSTREAM_LOG_LEVEL": "loud"})
        self.assert_exit(res, 2)
        self.assertIn("SIGSTREAM_LOG_LEVEL", res[2])

    def test_dead_server_exits_5(self):
        port = free_port()
        res = run_cli(["subscribe", "--server", "127.0.0.1:%d" % port, "--retry-for", "2"],
                      timeout=30)
        self.assert_exit(res, 5)
        self.assertGreaterEqual(res[3], 1.9, "gave up before --retry-for")
        self.assertLess(res[3], 15.0)
        self.assertIn("event=unreachable", res[2])
        self.assertIn("127.0.0.1:%d" % port, res[2])
        self.assertIn("event=reconnect", res[2])
        self.assertEqual(res[1], "")

    def test_silent_server_exits_5(self):
        # Accepts TCP connections and never answers: gRPC alone would wait
        # for its 20 s connect timeout, or forever; --retry-for still holds.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            res = run_cli(["subscribe", "--server", "127.0.0.1:%d" % s.getsockname()[1],
                           "--retry-for", "2"], timeout=30)
        self.assert_exit(res, 5)
        self.assertLess(res[3], 10.0)
        self.assertIn("no answer from the server", res[2])

    def test_server_from_environment(self):
        # SIGSTREAM_SERVER is the default for --server: the message names it.
        port = free_port()
        res = run_cli(["subscribe", "--retry-for", "0"],
                      env={"SIGSTREAM_SERVER": "127.0.0.1:%d" % port})
        self.assert_exit(res, 5)
        self.assertIn("127.0.0.1:%d" % port, res[2])


class FormatTests(CliTestCase):
    server_args = ["--rate", "5000", "--symbols", "20", "--ring", "262144"]

    def sub(self, *args, timeout=30):
        return run_cli(["subscribe", "--server", self.server.target] + list(args),
                       timeout=timeout)

    def test_json_lines(self):
        res = self.sub("--format", "json", "--count", "200")
        self.assert_exit(res, 0)
        lines = res[1].splitlines()
        self.assertEqual(len(lines), 200)
        prev = 0
        for line in lines:
            d = json.loads(line)
            self.assertEqual(set(d), JSON_KEYS)
            self.assertIsInstance(d["sequence"], int)
            self.assertIsInstance(d["timestamp_ns"], int)
            self.assertIsInstance(d["strength"], (int, float))
            self.assertIsInstance(d["price"], (int, float))
            self.assertIn(d["side"], ("BUY", "SELL"))
            self.assertRegex(d["symbol"], r"^SYM\d{4}$")
            self.assertIn(d["strategy"], h.STRATEGIES)
            self.assertTrue(0.0 <= d["strength"] <= 1.0)
            self.assertGreater(d["sequence"], prev)
            prev = d["sequence"]
        # Unfiltered and live: consecutive.
        h.assert_consecutive(self, json_sequences(lines), "json output")
        self.assertEqual(res[2], "", "nothing on stderr on the happy path")

    def test_csv(self):
        res = self.sub("--format", "csv", "--count", "100")
        self.assert_exit(res, 0)
        self.assertIn("\r\n", res[1], "RFC 4180 line ends")
        rows = list(csv.reader(io.StringIO(res[1], newline="")))
        self.assertEqual(rows[0], CSV_HEADER)
        self.assertEqual(len(rows), 101)
        for row in rows[1:]:
            self.assertEqual(len(row), 7)
            int(row[0])
            int(row[5])
            self.assertTrue(0.0 <= float(row[3]) <= 1.0)
            float(row[4])
            self.assertIn(row[2], ("BUY", "SELL"))
            self.assertIn(row[6], h.STRATEGIES)

    def test_text_aligned(self):
        res = self.sub("--count", "100")
        self.assert_exit(res, 0)
        lines = res[1].splitlines()
        self.assertEqual(len(lines), 100)
        starts = set()
        for line in lines:
            m = TEXT_RE.match(line)
            self.assertIsNotNone(m, "not a text line: %r" % line)
            starts.add((m.start(2), m.start(4), m.end(6), m.start(7)))
        self.assertEqual(len(starts), 1, "columns move between lines: %r" % starts)

    def test_filters(self):
        symbols = {"SYM0001", "SYM0002", "SYM0003"}
        res = self.sub("--format", "json", "--count", "40", "--symbols", ",".join(symbols),
                       "--strategies", "ema-cross", "--min-strength", "0.2", timeout=60)
        self.assert_exit(res, 0)
        lines = res[1].splitlines()
        self.assertEqual(len(lines), 40)
        for d in map(json.loads, lines):
            self.assertIn(d["symbol"], symbols)
            self.assertEqual(d["strategy"], "ema-cross")
            self.assertGreaterEqual(d["strength"], 0.2)

    def test_from_replays(self):
        res = self.sub("--format", "json", "--count", "1")
        self.assert_exit(res, 0)
        newest = json.loads(res[1])["sequence"]
        start = max(1, newest - 500)
        res = self.sub("--format", "json", "--count", "300", "--from", str(start))
        self.assert_exit(res, 0)
        seqs = json_sequences(res[1].splitlines())
        self.assertEqual(seqs[0], start)
        h.assert_consecutive(self, seqs, "--from replay")

    def test_batches(self):
        res = self.sub("--format", "json", "--count", "500", "--batches")
        self.assert_exit(res, 0)
        seqs = json_sequences(res[1].splitlines())
        self.assertEqual(len(seqs), 500)
        h.assert_consecutive(self, seqs, "--batches")

    def test_batches_with_linger(self):
        res = self.sub("--format", "json", "--count", "500", "--batches", "--linger", "40")
        self.assert_exit(res, 0)
        seqs = json_sequences(res[1].splitlines())
        self.assertEqual(len(seqs), 500)
        h.assert_consecutive(self, seqs, "--batches --linger 40")

    def test_count_and_duration(self):
        res = self.sub("--count", "5")
        self.assert_exit(res, 0)
        self.assertEqual(len(res[1].splitlines()), 5)
        res = self.sub("--duration", "1.5", "--format", "json")
        self.assert_exit(res, 0)
        self.assertGreaterEqual(res[3], 1.4)
        self.assertLess(res[3], 10.0)
        self.assertGreater(len(res[1].splitlines()), 100)

    def test_heartbeats_are_not_printed(self):
        # A filter that matches nothing: only heartbeats arrive.
        res = self.sub("--symbols", "NO.SUCH", "--heartbeat", "100", "--duration", "1.5",
                       "--format", "json")
        self.assert_exit(res, 0)
        self.assertEqual(res[1], "")
        self.assertEqual(res[2], "")

    def test_head_closes_pipe_quietly(self):
        cmd = 'set -o pipefail; "$SIGSTREAM_CLI_BIN" subscribe --server %s | head -3' % (
            self.server.target)
        proc = subprocess.run(["bash", "-c", cmd], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30,
                              env=cli_env({"SIGSTREAM_CLI_BIN": cli_binary()}))
        err = proc.stderr.decode(errors="replace")
        h.check_sanitizers(err, "sigstream | head -3")
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(len(proc.stdout.decode().splitlines()), 3)
        self.assertEqual(err, "", "a closed pipe is a quiet end")

    def test_sigint_and_sigterm_end_cleanly(self):
        c = self.cli(["subscribe", "--server", self.server.target, "--format", "json"])
        c.wait_lines(10)
        self.assertEqual(c.finish(signal.SIGINT), 0)
        self.assertNotIn("level=error", c.stderr())
        c = self.cli(["stats", "--server", self.server.target])
        c.wait_lines(1)
        self.assertEqual(c.finish(signal.SIGTERM), 0)
        self.assertRegex(c.lines()[-1], r"^summary ")

    def test_stats(self):
        res = run_cli(["stats", "--server", self.server.target, "--duration", "3.5"])
        self.assert_exit(res, 0)
        lines = res[1].splitlines()
        self.assertGreaterEqual(len(lines), 3)
        for line in lines[:-1]:
            self.assertRegex(line, r"signals/s \d+ +latency_ms p50 [\d.]+ p99 [\d.]+ max [\d.]+"
                                   r" +gaps \d+ +reconnects \d+$")
        m = re.match(r"^summary +signals (\d+) .*latency_ms p50 ([\d.]+) p90 ([\d.]+) "
                     r"p99 ([\d.]+) p999 ([\d.]+) max ([\d.]+)", lines[-1])
        self.assertIsNotNone(m, lines[-1])
        self.assertGreater(int(m.group(1)), 5000)
        p = [float(x) for x in m.groups()[1:]]
        self.assertEqual(p, sorted(p), "percentiles must not decrease")


class ResilienceTests(CliTestCase):
    """Restarts, slow reading, gaps: the stream goes on and says why."""

    def test_server_restart_same_port(self):
        args = ["--rate", "2000", "--symbols", "10"]
        a = Server(args).start()
        port = a.port
        servers = [a]
        try:
            c = self.cli(["subscribe", "--server", a.target, "--format", "json"])
            c.wait_lines(200)
            # 1: graceful (UNAVAILABLE "shutting down; resume from ..."), then a
            # new incarnation (new epoch) on the same port.
            a.stop(signal.SIGTERM)
            b = Server(args, listen="127.0.0.1:%d" % port).start()
            servers.append(b)
            c.wait_for(lambda: "event=server_restarted" in c.stderr(), 30, "restart noticed")
            n = len(c.lines())
            c.wait_lines(n + 200)
            # 2: a crash (no status at all), and again a new server.
            b.stop(signal.SIGKILL)
            d = Server(args, listen="127.0.0.1:%d" % port).start()
            servers.append(d)
            c.wait_for(lambda: c.stderr().count("event=server_restarted") >= 2, 30,
                       "second restart noticed")
            n = len(c.lines())
            c.wait_lines(n + 200)
            self.assertEqual(c.finish(signal.SIGTERM), 0)
        finally:
            for s in servers:
                if s.running():
                    s.stop()
        err = c.stderr()
        self.assertRegex(err, r"event=reconnect reason=\"UNAVAILABLE: [^\"]*shutting down")
        self.assertEqual(err.count("event=server_restarted"), 2, err)
        self.assertGreaterEqual(err.count("event=reconnected"), 2, err)
        # Sequences restart at 1 with each new server; within one server they
        # are consecutive, and each new server's stream starts at its first
        # retained signal (here 1: its ring still holds everything).
        seqs = json_sequences(c.lines())
        runs = [[seqs[0]]]
        for s in seqs[1:]:
            if s < runs[-1][-1]:
                runs.append([])
            runs[-1].append(s)
        self.assertEqual(len(runs), 3, "expected three incarnations, got runs starting at %r"
                         % [r[0] for r in runs])
        for i, run in enumerate(runs):
            h.assert_consecutive(self, run, "incarnation %d" % (i + 1))
        self.assertEqual(runs[1][0], 1)
        self.assertEqual(runs[2][0], 1)

    def test_slow_reader_never_loses_silently(self):
        # A small ring at a high rate: stopped for 3 s, the client falls far
        # behind; either the server kept up through flow control (no gap) or
        # the client reports exactly what it lost.
        with Server(["--ring", "1024", "--rate", "50000", "--symbols", "20"]) as srv:
            c = self.cli(["subscribe", "--server", srv.target, "--format", "json"])
            c.wait_lines(1000)
            c.send(signal.SIGSTOP)
            time.sleep(3)
            c.send(signal.SIGCONT)
            time.sleep(3)
            self.assertEqual(c.finish(signal.SIGINT), 0, c.stderr()[-3000:] + srv.log()[-3000:])
        seqs = json_sequences(c.lines())
        self.assertGreater(len(seqs), 1000)
        self.assert_no_silent_gaps(seqs, c.stderr(), "slow reader")

    def test_gap_continue_and_fail(self):
        with Server(["--ring", "64", "--rate", "2000", "--symbols", "5"]) as srv:
            # Let sequence 1 fall out of the 64-signal ring.
            with h.channel(srv.target) as ch:
                deadline = time.monotonic() + 20
                while h.newest_sequence(ch) < 200 and time.monotonic() < deadline:
                    time.sleep(0.05)
            res = run_cli(["subscribe", "--server", srv.target, "--from", "1",
                           "--on-gap", "fail"])
            self.assert_exit(res, 4)
            self.assertEqual(res[1], "")
            m = LOST_RE.search(res[2])
            self.assertIsNotNone(m, res[2])
            self.assertEqual(int(m.group(1)), 1)
            self.assertGreater(int(m.group(2)), 64)

            res = run_cli(["subscribe", "--server", srv.target, "--from", "1", "--count",
                           "20", "--format", "json"])
            self.assert_exit(res, 0)
            seqs = json_sequences(res[1].splitlines())
            self.assertEqual(len(seqs), 20)
            lost = [(int(a), int(b)) for a, b in LOST_RE.findall(res[2])]
            self.assertTrue(lost, res[2])
            self.assertEqual(lost[0][0], 1)
            # The stream goes on right after a range it reported lost (a ring
            # this small can overtake it again: more ranges, all reported).
            self.assertIn(seqs[0] - 1, [b for _, b in lost], res[2])
            self.assert_no_silent_gaps(seqs, res[2], "gap continue")


class FakeService(grpc.GenericRpcHandler):
    """A stand-in SignalService that answers StreamSignals as told: an error
    status, or raw bytes that are no valid Signal."""

    def __init__(self, behavior):
        self.behavior = behavior

    def service(self, details):
        if details.method != "/signals.v1.SignalService/StreamSignals":
            return None  # -> UNIMPLEMENTED
        return grpc.unary_stream_rpc_method_handler(
            self.stream, request_deserializer=lambda b: b, response_serializer=lambda b: b)

    def stream(self, request, context):
        kind, arg = self.behavior
        if kind == "abort":
            context.abort(arg[0], arg[1])
        yield arg


class ServerErrorTests(CliTestCase):
    """The documented exit codes for what only a server can cause."""

    def fake(self, behavior):
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                             handlers=[FakeService(behavior)])
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self.addCleanup(server.stop, None)
        return "127.0.0.1:%d" % port

    def test_invalid_argument_exits_3(self):
        target = self.fake(("abort", (grpc.StatusCode.INVALID_ARGUMENT,
                                      "symbols[0]: length 99 outside 1..15 bytes")))
        res = run_cli(["subscribe", "--server", target])
        self.assert_exit(res, 3)
        self.assertIn("INVALID_ARGUMENT", res[2])
        self.assertIn("symbols[0]: length 99 outside 1..15 bytes", res[2])

    def test_other_final_status_exits_6(self):
        target = self.fake(("abort", (grpc.StatusCode.PERMISSION_DENIED, "not for you")))
        res = run_cli(["subscribe", "--server", target])
        self.assert_exit(res, 6)
        self.assertIn("PERMISSION_DENIED", res[2])
        self.assertIn("not for you", res[2])
        # A method the server does not have.
        res = run_cli(["subscribe", "--server", target, "--batches"])
        self.assert_exit(res, 6)
        self.assertIn("UNIMPLEMENTED", res[2])

    def test_undecodable_message_exits_7(self):
        # Field 2 (symbol) of 40 bytes: more than the contract's 15.
        target = self.fake(("bytes", b"\x08\x01\x12\x28" + b"A" * 40))
        res = run_cli(["subscribe", "--server", target])
        self.assert_exit(res, 7)
        self.assertIn("event=bad_message", res[2])
        self.assertEqual(res[1], "")

    def test_resource_exhausted_is_retried(self):
        target = self.fake(("abort", (grpc.StatusCode.RESOURCE_EXHAUSTED, "too many streams")))
        res = run_cli(["subscribe", "--server", target, "--retry-for", "1"])
        self.assert_exit(res, 5)
        self.assertIn("RESOURCE_EXHAUSTED: too many streams", res[2])


if __name__ == "__main__":
    unittest.main()
