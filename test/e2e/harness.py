"""Shared helpers for the sigstream end-to-end tests.

The tests drive the REAL sigstreamd binary on loopback with an INDEPENDENT
client: Debian's /usr/bin/python3 with python3-grpcio and python3-protobuf,
and stubs that protoc generates from proto/signals/v1/signal.proto at test
time (never committed).

Environment:
  SIGSTREAMD             absolute path of the sigstreamd binary under test
  SIGSTREAM_SOURCE_ROOT  the source tree (for proto/); default: this file's repo

Everything here is bounded in time: every RPC has a deadline and every wait a
timeout, so a broken server fails the tests instead of hanging them.
"""

import atexit
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True

import grpc  # noqa: E402  (Debian's python3-grpcio)

HERE = os.path.dirname(os.path.abspath(__file__))

# Strategy names the server runs.
STRATEGIES = ("ema-cross", "zscore-revert")

# Text that a sanitizer writes on stderr when it finds something.
SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)

# A log line: RFC 3339 timestamp first, then level=, then key=value pairs.
LOG_LINE_RE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d) "
    r"level=(?:debug|info|warn|error)(?: |$)")
LISTENING_RE = re.compile(r"^.*\bevent=listening\b.*$", re.M)
PORT_RE = re.compile(r"\bport=(\d+)\b")


def source_root():
    root = os.environ.get("SIGSTREAM_SOURCE_ROOT")
    if root:
        return os.path.abspath(root)
    return os.path.abspath(os.path.join(HERE, "..", ".."))


def server_binary():
    exe = os.environ.get("SIGSTREAMD")
    if not exe:
        raise RuntimeError("SIGSTREAMD is not set (absolute path of the sigstreamd binary)")
    exe = os.path.abspath(exe)
    if not os.access(exe, os.X_OK):
        raise RuntimeError("SIGSTREAMD=%s is not an executable file" % exe)
    return exe


# --------------------------------------------------------------------------
# Stubs
# --------------------------------------------------------------------------

_stubs_lock = threading.Lock()
_stubs = None
_stubs_dir = None


def stubs_dir():
    """The directory holding the generated `signals/v1/*.py` (for child
    processes: put it on sys.path)."""
    stubs()
    return _stubs_dir


def stubs():
    """(signal_pb2, signal_pb2_grpc), generated once per process into a tempdir."""
    global _stubs, _stubs_dir
    with _stubs_lock:
        if _stubs is not None:
            return _stubs
        root = source_root()
        proto = os.path.join("proto", "signals", "v1", "signal.proto")
        if not os.path.isfile(os.path.join(root, proto)):
            raise RuntimeError("no %s under %s (set SIGSTREAM_SOURCE_ROOT)" % (proto, root))
        out = tempfile.mkdtemp(prefix="sigstream-e2e-stubs-")
        atexit.register(shutil.rmtree, out, True)
        plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
        cmd = ["protoc", "-I", "proto", "--python_out=" + out, "--grpc_python_out=" + out,
               "--plugin=protoc-gen-grpc_python=" + plugin, proto]
        res = subprocess.run(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=60)
        if res.returncode != 0:
            raise RuntimeError("protoc failed (%d): %s" % (
                res.returncode, res.stderr.decode(errors="replace")))
        sys.path.insert(0, out)
        import importlib
        importlib.invalidate_caches()
        pb2 = importlib.import_module("signals.v1.signal_pb2")
        pb2_grpc = importlib.import_module("signals.v1.signal_pb2_grpc")
        _stubs = (pb2, pb2_grpc)
        _stubs_dir = out
        return _stubs


def pb2():
    return stubs()[0]


def request(**kw):
    """A SignalRequest from keyword fields."""
    return pb2().SignalRequest(**kw)


# --------------------------------------------------------------------------
# The server process
# --------------------------------------------------------------------------

def _child_env(env):
    """The environment for a sigstreamd child: ours minus every SIGSTREAM_*
    variable (a developer's shell must not change the tests), plus `env`."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("SIGSTREAM_")}
    if env:
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = str(v)
    return e


class Result:
    def __init__(self, args, returncode, stdout, stderr, elapsed):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.elapsed = elapsed

    def __repr__(self):
        return "<sigstreamd %r: exit %r after %.1fs\n--- stdout ---\n%s\n--- stderr ---\n%s>" % (
            self.args, self.returncode, self.elapsed, self.stdout[-3000:], self.stderr[-3000:])


def run_sigstreamd(args, env=None, timeout=10.0, exe=None):
    """Runs sigstreamd with exactly `args` to completion (for the command line
    tests: --help, bad flags, a port in use). Fails if it does not exit within
    `timeout` (it is then killed). Returns a Result (text stdout/stderr)."""
    exe = exe or server_binary()
    argv = [exe] + [str(a) for a in args]
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_child_env(env))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError("sigstreamd %r did not exit within %.0f s (killed)\n"
                             "--- stdout ---\n%s\n--- stderr ---\n%s" % (
                                 args, timeout, out.decode(errors="replace")[-3000:],
                                 err.decode(errors="replace")[-3000:]))
    res = Result(args, proc.returncode, out.decode(errors="replace"),
                 err.decode(errors="replace"), time.monotonic() - t0)
    check_sanitizers(res.stderr, "sigstreamd %r" % (args,))
    return res


def sanitizer_report(text):
    """The first sanitizer finding in `text` with some context, or None."""
    for pat in SANITIZER_PATTERNS:
        i = text.find(pat)
        if i >= 0:
            start = text.rfind("\n", 0, max(0, i - 200)) + 1
            return text[start:start + 6000]
    return None


def check_sanitizers(text, what="sigstreamd"):
    rep = sanitizer_report(text)
    if rep is not None:
        raise AssertionError("%s: sanitizer report on stderr:\n%s" % (what, rep))


_sanitized_cache = {}


def binary_is_sanitized(exe=None):
    """True when the binary is built with ASan/TSan (RSS is meaningless there:
    ASan's quarantine holds freed memory)."""
    exe = exe or server_binary()
    if exe not in _sanitized_cache:
        found = False
        try:
            with open(exe, "rb") as f:
                data = f.read()
            found = any(s in data for s in (b"__asan_init", b"__tsan_init", b"libasan.so",
                                             b"libtsan.so"))
        except OSError:
            pass
        _sanitized_cache[exe] = found
    return _sanitized_cache[exe]


class Server:
    """A running sigstreamd on 127.0.0.1 with an OS-chosen port.

        with Server(["--rate", "5000"]) as srv:
            with channel(srv.target) as ch: ...

    stderr is read by a background thread (the server never blocks on a full
    pipe); the port comes from the `event=listening` log line.
    """

    def __init__(self, args=(), env=None, listen="127.0.0.1:0", log_level="debug",
                 start_timeout=10.0, exe=None, wrapper=()):
        self.exe = exe or server_binary()
        # `wrapper`: a command the server runs under, e.g. valgrind and its flags.
        self.argv = [str(w) for w in wrapper] + [self.exe]
        if listen is not None:
            self.argv += ["--listen", listen]
        if log_level is not None:
            self.argv += ["--log-level", log_level]
        self.argv += [str(a) for a in args]
        self.env = env
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.target = None
        self.returncode = None
        self._stopped_by_us = False
        self._cond = threading.Condition()
        self._err = []      # stderr chunks (text)
        self._out = []      # stdout chunks (text)
        self._threads = []

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=_child_env(self.env))
        for stream, buf in ((self.proc.stderr, self._err), (self.proc.stdout, self._out)):
            t = threading.Thread(target=self._pump, args=(stream, buf), daemon=True)
            t.start()
            self._threads.append(t)
        try:
            m = self.wait_log(r"^.*\bevent=listening\b.*$", self.start_timeout)
        except AssertionError as e:
            self._kill()
            raise AssertionError("sigstreamd %r did not log event=listening: %s" % (
                self.argv[1:], e)) from None
        pm = PORT_RE.search(m.group(0))
        if not pm:
            self._kill()
            raise AssertionError("listening line has no port=N: %r" % m.group(0))
        self.port = int(pm.group(1))
        if not 0 < self.port < 65536:
            self._kill()
            raise AssertionError("listening line has a bad port: %r" % m.group(0))
        self.target = "127.0.0.1:%d" % self.port
        return self

    def _pump(self, stream, buf):
        try:
            while True:
                line = stream.readline()
                if not line:
                    break
                with self._cond:
                    buf.append(line.decode(errors="replace"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            try:
                stream.close()
            except OSError:
                pass
            with self._cond:
                self._cond.notify_all()

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._join_pumps()

    def _join_pumps(self):
        for t in self._threads:
            t.join(5)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Sends `sig` and waits for the exit; returns the exit code (negative:
        killed by that signal). Fails if it does not exit within `timeout` (the
        server is then killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.stop_nowait(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                self._join_pumps()
                raise AssertionError(
                    "sigstreamd did not exit within %.0f s after signal %d (killed); "
                    "log tail:\n%s" % (timeout, sig, self.log()[-4000:]))
        self.returncode = self.proc.returncode
        self._join_pumps()
        return self.returncode

    def stop_nowait(self, sig=signal.SIGTERM):
        """Sends `sig` and returns at once; wait_exit() collects the exit."""
        if self.proc is not None and self.proc.poll() is None:
            self._stopped_by_us = True
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def wait_exit(self, timeout):
        """Waits for the process to end on its own; returns the exit code or
        None if still running after `timeout`."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_pumps()
        self.returncode = self.proc.returncode
        return self.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        problems = []
        died_on_its_own = (self.proc is not None and self.proc.poll() is not None
                           and not self._stopped_by_us)
        try:
            code = self.stop()
        except AssertionError as e:
            problems.append(str(e))
            code = self.proc.returncode
        rep = sanitizer_report(self.log())
        if rep is not None:
            problems.append("sanitizer report on sigstreamd's stderr:\n" + rep)
        if code is not None and code < 0 and code not in (-signal.SIGTERM, -signal.SIGINT):
            problems.append("sigstreamd died of signal %d" % -code)
        elif died_on_its_own and code != 0:
            problems.append("sigstreamd exited on its own with code %r" % code)
        if problems:
            msg = "\n".join(problems) + "\n--- sigstreamd log tail ---\n" + self.log()[-4000:]
            raise AssertionError(msg)
        return False

    # -- observation -------------------------------------------------------

    def log(self):
        """stderr so far (text)."""
        with self._cond:
            return "".join(self._err)

    def stdout(self):
        with self._cond:
            return "".join(self._out)

    def log_lines(self):
        with self._cond:
            return list(self._err)

    def wait_log(self, regex, timeout=10.0, flags=re.M):
        """Waits until the log matches `regex` (re.search over the whole log,
        multiline); returns the match. Fails on timeout or if the process
        exits without a match."""
        rx = re.compile(regex, flags) if isinstance(regex, str) else regex
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                text = "".join(self._err)
                m = rx.search(text)
                if m:
                    return m
                left = deadline - time.monotonic()
                pumps_done = all(not t.is_alive() for t in self._threads)
                if left <= 0 or (self.proc.poll() is not None and pumps_done):
                    break
                self._cond.wait(min(left, 0.2))
        state = ("exited with %r" % self.proc.poll()) if self.proc.poll() is not None \
            else "still running"
        raise AssertionError("no log match for %r within %.1f s (sigstreamd %s); log tail:\n%s"
                             % (rx.pattern, timeout, state, text[-4000:]))

    def wait_log_count(self, regex, count, timeout=10.0):
        """Waits until at least `count` log lines match; returns the matches."""
        rx = re.compile(regex, re.M)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = rx.findall("".join(self._err))
                if len(found) >= count or time.monotonic() >= deadline:
                    return found
                if self.proc.poll() is not None and all(not t.is_alive() for t in self._threads):
                    return found
                self._cond.wait(0.2)

    def rss_kb(self):
        """VmRSS of the server in kB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS in /proc/%d/status" % self.proc.pid)

    def wakeups_per_s(self, seconds):
        """Voluntary context switches per second, all threads together, over
        the next `seconds`: how often the server sleeps and is woken."""
        def total():
            n = 0
            task = "/proc/%d/task" % self.proc.pid
            for tid in os.listdir(task):
                try:
                    with open("%s/%s/status" % (task, tid)) as f:
                        for line in f:
                            if line.startswith("voluntary_ctxt_switches:"):
                                n += int(line.split()[1])
                except FileNotFoundError:
                    pass  # a thread that just ended
            return n
        a, t0 = total(), time.monotonic()
        time.sleep(seconds)
        return (total() - a) / (time.monotonic() - t0)

    def sanitized(self):
        return binary_is_sanitized(self.exe)


# --------------------------------------------------------------------------
# Client side
# --------------------------------------------------------------------------

def channel(target, options=()):
    """An insecure channel with test-friendly options: its own connection (no
    sharing of subchannels between channels of this process), no retries,
    no message size limits. Use as a context manager."""
    opts = {
        "grpc.use_local_subchannel_pool": 1,
        "grpc.enable_retries": 0,
        "grpc.max_receive_message_length": -1,
        "grpc.max_send_message_length": -1,
    }
    for k, v in options:
        opts[k] = v
    return grpc.insecure_channel(target, options=list(opts.items()))


def wait_ready(ch, timeout=10.0):
    grpc.channel_ready_future(ch).result(timeout=timeout)


def stub(ch):
    return stubs()[1].SignalServiceStub(ch)


def open_stream(ch, req=None, batches=False, timeout=60.0, **fields):
    """Starts StreamSignals (or StreamSignalBatches) with a deadline; returns
    the call (an iterator of messages that is also a grpc.Call/Future)."""
    if req is None:
        req = request(**fields)
    elif fields:
        raise TypeError("give either req or fields")
    s = stub(ch)
    method = s.StreamSignalBatches if batches else s.StreamSignals
    return method(req, timeout=timeout)


def h2_connect(target):
    """A bare HTTP/2 client connection (python3-h2), for what gRPC clients
    will not do: stop reading a stream, or never cancel at a deadline.
    Returns (socket, H2Connection) with the preface queued, not yet sent."""
    import socket
    import h2.config
    import h2.connection
    host, port = target.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    return sock, conn


def h2_request_headers(target, path, timeout=None):
    """The HEADERS of a gRPC call to `path`; `timeout` is a grpc-timeout
    value ("800m"), or None for no deadline."""
    headers = [(":method", "POST"), (":scheme", "http"), (":authority", target),
               (":path", path), ("content-type", "application/grpc"), ("te", "trailers")]
    if timeout is not None:
        headers.append(("grpc-timeout", timeout))
    return headers


def grpc_frame(body):
    """One uncompressed gRPC message on the wire: flag, length, bytes."""
    return b"\0" + len(body).to_bytes(4, "big") + body


def grpc_unframe(buf):
    """The whole gRPC messages at the start of `buf` (bytes off the wire),
    and what is left of it: (bodies, rest)."""
    bodies = []
    while len(buf) >= 5 and len(buf) >= 5 + int.from_bytes(buf[1:5], "big"):
        n = int.from_bytes(buf[1:5], "big")
        bodies.append(buf[5:5 + n])
        buf = buf[5 + n:]
    return bodies, buf


def _status_of(err):
    code = err.code() if hasattr(err, "code") else None
    details = err.details() if hasattr(err, "details") else str(err)
    return code, details or ""


def take(call, n, what="stream"):
    """Reads exactly `n` messages (bounded by the call's deadline). Fails with
    the status if the stream ends first."""
    out = []
    try:
        while len(out) < n:
            out.append(next(call))
    except StopIteration:
        raise AssertionError("%s ended OK after %d of %d messages" % (what, len(out), n))
    except grpc.RpcError as e:
        code, details = _status_of(e)
        raise AssertionError("%s failed after %d of %d messages: %s %r" % (
            what, len(out), n, code, details)) from None
    return out


def take_signals(call, n, batches=False, what="stream"):
    """Reads until at least `n` signals arrived; batches are flattened."""
    if not batches:
        return take(call, n, what)
    out = []
    try:
        while len(out) < n:
            out.extend(next(call).signals)
    except StopIteration:
        raise AssertionError("%s ended OK after %d of %d signals" % (what, len(out), n))
    except grpc.RpcError as e:
        code, details = _status_of(e)
        raise AssertionError("%s failed after %d of %d signals: %s %r" % (
            what, len(out), n, code, details)) from None
    return out


def drain(call, limit=None):
    """Reads until the stream ends (or `limit` messages, then cancels).
    Returns (messages, code, details); code is grpc.StatusCode.OK on a clean
    end, CANCELLED if we hit the limit. Bounded by the call's deadline."""
    out = []
    try:
        for m in call:
            out.append(m)
            if limit is not None and len(out) >= limit:
                call.cancel()
                return out, grpc.StatusCode.CANCELLED, "cancelled by the test"
    except grpc.RpcError as e:
        code, details = _status_of(e)
        return out, code, details
    return out, call.code(), call.details() or ""


def status(call):
    """(code, details) of a call, waiting for it to finish (bounded by its
    deadline)."""
    try:
        for _ in call:
            pass
    except grpc.RpcError:
        pass
    return call.code(), call.details() or ""


def expect_error(ch, req, batches=False, timeout=10.0):
    """Opens a stream that should fail before any message; returns
    (messages, code, details)."""
    return drain(open_stream(ch, req, batches=batches, timeout=timeout), limit=1)


def epoch(call):
    """The sigstream-epoch initial metadata of a call (blocks until the
    initial metadata arrived, bounded by the call's deadline)."""
    md = call.initial_metadata() or ()
    for k, v in md:
        if k == "sigstream-epoch":
            return v if isinstance(v, str) else v.decode(errors="replace")
    return None


def flatten(batches):
    out = []
    for b in batches:
        out.extend(b.signals)
    return out


def is_heartbeat(sig):
    return sig.symbol == ""


def sequences(msgs):
    return [m.sequence for m in msgs]


def gaps(seqs):
    """Human-readable list of places where seqs are not +1 consecutive."""
    bad = []
    for i in range(1, len(seqs)):
        if seqs[i] != seqs[i - 1] + 1:
            bad.append("[%d] %d -> %d" % (i, seqs[i - 1], seqs[i]))
            if len(bad) >= 10:
                bad.append("...")
                break
    return bad


def assert_consecutive(tc, seqs, what="stream"):
    bad = gaps(seqs)
    if bad:
        tc.fail("%s: sequences are not consecutive (%d signals, first %s, last %s): %s" % (
            what, len(seqs), seqs[0] if seqs else None, seqs[-1] if seqs else None,
            ", ".join(bad)))


def numbers(text):
    return [int(x) for x in re.findall(r"\d+", text or "")]


def matches(sig, symbols=(), strategies=(), min_strength=0.0):
    return ((not symbols or sig.symbol in symbols)
            and (not strategies or sig.strategy in strategies)
            and sig.strength >= min_strength)


class Reader:
    """Consumes a stream in a background thread, recording every message
    with its arrival time and the final status.

        r = Reader(call, limit=500)       # cancels after 500 messages
        r.wait_count(100, timeout=10)
        r.stop(); r.join()
    """

    def __init__(self, call, limit=None, batches=False, on_message=None):
        self.call = call
        self.limit = limit
        self.batches = batches
        self.on_message = on_message
        self.msgs = []
        self.times = []
        self.code = None
        self.details = None
        self.error = None
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _count(self):
        return sum(len(m.signals) for m in self.msgs) if self.batches else len(self.msgs)

    def _run(self):
        try:
            for m in self.call:
                with self._cond:
                    self.msgs.append(m)
                    self.times.append(time.monotonic())
                    self._cond.notify_all()
                    reached = self.limit is not None and self._count() >= self.limit
                if self.on_message is not None:
                    self.on_message(m)
                if reached:
                    self.call.cancel()
                    break
            code, details = self.call.code(), self.call.details()
        except grpc.RpcError as e:
            code, details = _status_of(e)
        except Exception as e:  # noqa: BLE001 -- reported by the test
            code, details = None, None
            self.error = e
        with self._cond:
            self.code = code
            self.details = details or ""
            self._done = True
            self._cond.notify_all()

    def count(self):
        with self._cond:
            return self._count()

    def done(self):
        with self._cond:
            return self._done

    def signals(self):
        with self._cond:
            return flatten(self.msgs) if self.batches else list(self.msgs)

    def wait_count(self, n, timeout):
        """True once at least n signals arrived; False on timeout or end."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._count() < n and not self._done:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return self._count() >= n

    def wait_done(self, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._done:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
            return True

    def stop(self):
        self.call.cancel()

    def join(self, timeout=10.0):
        self._thread.join(timeout)
        return not self._thread.is_alive()


def stop_readers(readers):
    """Cancels every reader's call, then waits for their threads (all
    cancels first: one join at a time would wait out each stream in turn)."""
    readers = list(readers)
    for r in readers:
        r.stop()
    for r in readers:
        r.join()


def stop_and_drain(srv, readers, sig=signal.SIGTERM, timeout=15.0):
    """Stops `srv` with `sig`, then waits (up to 10 s each) for every
    reader's stream to end. Returns (exit code, seconds the stop took)."""
    t0 = time.monotonic()
    code = srv.stop(sig, timeout=timeout)
    elapsed = time.monotonic() - t0
    for r in readers:
        r.wait_done(10)
    return code, elapsed


def newest_sequence(ch, timeout=15.0):
    """The sequence of the next live signal (a fresh unfiltered stream's first
    message): a lower bound of the server's newest published sequence."""
    call = open_stream(ch, timeout=timeout)
    try:
        return take(call, 1, "probe stream")[0].sequence
    finally:
        call.cancel()


def is_finite(x):
    return not (math.isnan(x) or math.isinf(x))
