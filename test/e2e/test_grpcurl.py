#!/usr/bin/python3
"""End-to-end tests of what grpcurl (and grpcui, Postman, Kubernetes probes)
need from sigstreamd: server reflection (grpc.reflection.v1 and v1alpha) and
health checking (grpc.health.v1).

    SIGSTREAMD=build/server/sigstreamd SIGSTREAM_SOURCE_ROOT=. \\
        /usr/bin/python3 test/e2e/test_grpcurl.py -v [TestCaseClass[.test_name]]

grpcurl is not packaged for Debian 12, so an independent client stands in
for it: Debian's python3-grpcio with reflection and health stubs that protoc
generates at test time from Debian's grpc-proto. It walks reflection the way
grpcurl does (list, file_containing_symbol, then every dependency), builds
the message classes from the received descriptors alone (never from
signal_pb2), and makes a live StreamSignals call with a request parsed from
JSON, as `grpcurl -d '{...}'` does.

One TestCase class per area; meson runs one test per class (suite 'e2e').
"""

import atexit
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, json_format  # noqa: E402
from google.protobuf import message_factory  # noqa: E402

import harness as h  # noqa: E402
from harness import Server, channel  # noqa: E402

GRPC_PROTO_ROOT = "/usr/share/grpc-proto"
SERVICES = {
    "signals.v1.SignalService",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
}
SIGNAL_FILE = "signals/v1/signal.proto"
HEALTH_FILE = "grpc/health/v1/health.proto"
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]        # 5
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED.value[0]  # 12
RPC_TIMEOUT = 20.0

# --------------------------------------------------------------------------
# Stubs: generated once per process. The protos are copied under new file
# names first, so that no generated folder is called grpc/ (it would shadow
# the grpc package); their proto packages, and so the method paths, are
# unchanged.
# --------------------------------------------------------------------------

_STUB_PROTOS = {
    "sigstream_t_reflection_v1": "grpc/reflection/v1/reflection.proto",
    "sigstream_t_reflection_v1alpha": "grpc/reflection/v1alpha/reflection.proto",
    "sigstream_t_health_v1": "grpc/health/v1/health.proto",
}
_stubs = None
_stubs_lock = threading.Lock()


def stubs():
    """{name: (pb2, pb2_grpc)} for the names of _STUB_PROTOS."""
    global _stubs
    with _stubs_lock:
        if _stubs is not None:
            return _stubs
        tmp = tempfile.mkdtemp(prefix="sigstream-e2e-grpcurl-")
        atexit.register(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "src")
        out = os.path.join(tmp, "out")
        os.makedirs(src)
        os.makedirs(out)
        for name, rel in _STUB_PROTOS.items():
            path = os.path.join(GRPC_PROTO_ROOT, rel)
            if not os.path.isfile(path):
                raise RuntimeError("%s is missing: install the Debian package grpc-proto" % path)
            shutil.copyfile(path, os.path.join(src, name + ".proto"))
        plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
        cmd = ["protoc", "-I", src, "--python_out=" + out, "--grpc_python_out=" + out,
               "--plugin=protoc-gen-grpc_python=" + plugin]
        cmd += [os.path.join(src, n + ".proto") for n in _STUB_PROTOS]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        if res.returncode != 0:
            raise RuntimeError("protoc failed (%d): %s" % (
                res.returncode, res.stderr.decode(errors="replace")))
        sys.path.insert(0, out)
        import importlib
        importlib.invalidate_caches()
        _stubs = {n: (importlib.import_module(n + "_pb2"), importlib.import_module(n + "_pb2_grpc"))
                  for n in _STUB_PROTOS}
        return _stubs


def reflection_api(version):
    """(pb2, stub class) of reflection `version` ("v1" or "v1alpha")."""
    pb2, pb2_grpc = stubs()["sigstream_t_reflection_" + version]
    return pb2, pb2_grpc.ServerReflectionStub


def health_api():
    pb2, pb2_grpc = stubs()["sigstream_t_health_v1"]
    return pb2, pb2_grpc.HealthStub


def expected_descriptors():
    """{file name: FileDescriptorProto} as protoc compiles the same protos
    here, now: what the server must serve, comments included."""
    root = h.source_root()
    with tempfile.TemporaryDirectory(prefix="sigstream-e2e-protoset-") as tmp:
        out = os.path.join(tmp, "all.protoset")
        cmd = ["protoc", "-I", os.path.join(root, "proto"), "-I", GRPC_PROTO_ROOT,
               "--include_imports", "--include_source_info", "--descriptor_set_out=" + out,
               os.path.join(root, "proto", SIGNAL_FILE),
               os.path.join(GRPC_PROTO_ROOT, HEALTH_FILE),
               os.path.join(GRPC_PROTO_ROOT, "grpc/reflection/v1/reflection.proto"),
               os.path.join(GRPC_PROTO_ROOT, "grpc/reflection/v1alpha/reflection.proto")]
        subprocess.run(cmd, check=True, timeout=60)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(out, "rb") as f:
            fds.ParseFromString(f.read())
    return {fd.name: fd for fd in fds.file}


# --------------------------------------------------------------------------
# A reflection client, the way grpcurl drives one
# --------------------------------------------------------------------------

class ReflectionStream:
    """One ServerReflectionInfo stream: ask() sends a request and returns the
    answer; close() half-closes and returns the final status."""

    def __init__(self, ch, version="v1", timeout=RPC_TIMEOUT):
        self.pb2, stub_cls = reflection_api(version)
        self._requests = queue.Queue()
        self.call = stub_cls(ch).ServerReflectionInfo(self._request_iter(), timeout=timeout)

    def _request_iter(self):
        while True:
            req = self._requests.get()
            if req is None:
                return
            yield req

    def send(self, **fields):
        req = self.pb2.ServerReflectionRequest(**fields)
        self._requests.put(req)
        return req

    def recv(self):
        return next(self.call)

    def ask(self, **fields):
        req = self.send(**fields)
        resp = self.recv()
        if resp.original_request != req:
            raise AssertionError("answer to %r echoes %r" % (req, resp.original_request))
        return resp

    def close(self):
        """Half-closes; returns (messages after the half-close, code, details)."""
        self._requests.put(None)
        rest = []
        try:
            for m in self.call:
                rest.append(m)
        except grpc.RpcError:
            pass
        return rest, self.call.code(), self.call.details() or ""

    def cancel(self):
        self._requests.put(None)
        self.call.cancel()


def parse_files(resp):
    out = []
    for raw in resp.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(raw)
        out.append(fd)
    return out


class Walk:
    """The result of a grpcurl-style walk: the services listed and a
    descriptor pool built only from what the server sent."""

    def __init__(self, ch, version):
        self.version = version
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}          # name -> FileDescriptorProto received
        self.requests = 0
        rs = ReflectionStream(ch, version)
        try:
            resp = rs.ask(list_services="")
            self.requests += 1
            self.services = [s.name for s in resp.list_services_response.service]
            for svc in self.services:
                resp = rs.ask(file_containing_symbol=svc)
                self.requests += 1
                if resp.HasField("error_response"):
                    raise AssertionError("%s: file_containing_symbol(%s): %r" % (
                        version, svc, resp.error_response))
                for fd in parse_files(resp):
                    self.files.setdefault(fd.name, fd)
                # Like grpcurl: a dependency the answer left out is asked for.
                missing = self._missing()
                while missing:
                    name = missing.pop()
                    resp = rs.ask(file_by_filename=name)
                    self.requests += 1
                    if resp.HasField("error_response"):
                        raise AssertionError("%s: dependency %s: %r" % (
                            version, name, resp.error_response))
                    for fd in parse_files(resp):
                        self.files.setdefault(fd.name, fd)
                    missing = self._missing()
            rest, code, details = rs.close()
            if rest or code != grpc.StatusCode.OK:
                raise AssertionError("%s: half-close ended %s %r after %d extra messages" % (
                    version, code, details, len(rest)))
        except BaseException:
            rs.cancel()
            raise
        added = set()

        def add(name):
            if name in added:
                return
            for dep in self.files[name].dependency:
                add(dep)
            self.pool.Add(self.files[name])
            added.add(name)

        for name in sorted(self.files):
            add(name)
        self.factory = message_factory.MessageFactory(self.pool)

    def _missing(self):
        return sorted({d for fd in self.files.values() for d in fd.dependency
                       if d not in self.files})

    def message_class(self, full_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

class GrpcurlTestCase(unittest.TestCase):
    server_args = None

    @classmethod
    def setUpClass(cls):
        stubs()
        cls.server = None
        if cls.server_args is not None:
            cls.server = Server(cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server is not None:
            srv, cls.server = cls.server, None
            srv.__exit__(None, None, None)

    def setUp(self):
        if self.server is not None:
            self.assertTrue(self.server.running(),
                            "the shared sigstreamd is not running; log tail:\n"
                            + self.server.log()[-3000:])


class ReflectionWalkTests(GrpcurlTestCase):
    """grpcurl list / describe / a JSON-driven call, over v1 and v1alpha."""

    server_args = ["--rate", "3000", "--symbols", "20"]

    def walk(self, version):
        with channel(self.server.target) as ch:
            return Walk(ch, version)

    def test_list(self):
        for version in ("v1", "v1alpha"):
            with self.subTest(version=version):
                w = self.walk(version)
                self.assertEqual(len(w.services), len(set(w.services)), w.services)
                self.assertEqual(set(w.services), SERVICES)

    def test_descriptors_are_protocs(self):
        """Every file received is the FileDescriptorProto protoc makes from
        the same proto, source info (comments for `describe`) included."""
        want = expected_descriptors()
        for version in ("v1", "v1alpha"):
            with self.subTest(version=version):
                w = self.walk(version)
                self.assertEqual(set(w.files), set(want))
                for name, fd in w.files.items():
                    self.assertEqual(fd, want[name], name)
                self.assertTrue(w.files[SIGNAL_FILE].HasField("source_code_info"))

    def test_describe_service(self):
        for version in ("v1", "v1alpha"):
            with self.subTest(version=version):
                w = self.walk(version)
                svc = w.pool.FindServiceByName("signals.v1.SignalService")
                methods = {m.name: m for m in svc.methods}
                self.assertEqual(set(methods), {"StreamSignals", "StreamSignalBatches"})
                for name, out in (("StreamSignals", "signals.v1.Signal"),
                                  ("StreamSignalBatches", "signals.v1.SignalBatch")):
                    m = methods[name]
                    self.assertEqual(m.input_type.full_name, "signals.v1.SignalRequest")
                    self.assertEqual(m.output_type.full_name, out)
                    # `rpc X(SignalRequest) returns (stream Y)`
                    mp = descriptor_pb2.MethodDescriptorProto()
                    m.CopyToProto(mp)
                    self.assertTrue(mp.server_streaming, name)
                    self.assertFalse(mp.client_streaming, name)
                # Every listed service resolves to a service descriptor.
                for name in w.services:
                    self.assertEqual(w.pool.FindServiceByName(name).full_name, name)
                sig = w.pool.FindMessageTypeByName("signals.v1.Signal")
                self.assertEqual(
                    [f.name for f in sig.fields],
                    ["sequence", "symbol", "side", "strength", "price", "timestamp_ns",
                     "strategy"])
                self.assertEqual(sig.fields_by_name["side"].enum_type.full_name,
                                 "signals.v1.Side")

    def first_messages(self, method, req, resp_cls, n):
        """The first `n` messages of a SignalService stream, through
        dynamic classes only (as grpcurl does it)."""
        with channel(self.server.target) as ch:
            call = ch.unary_stream(
                "/signals.v1.SignalService/" + method,
                request_serializer=type(req).SerializeToString,
                response_deserializer=resp_cls.FromString)(req, timeout=30)
            try:
                got = [m for _, m in zip(range(n), call)]
            finally:
                call.cancel()
        self.assertEqual(len(got), n, "%s ended early" % method)
        return got

    def test_call_with_json_request(self):
        """grpcurl -d '{"symbols":["SYM0001"],"min_strength":0.5}' ...
        signals.v1.SignalService/StreamSignals, with dynamic classes only."""
        for version in ("v1", "v1alpha"):
            with self.subTest(version=version):
                w = self.walk(version)
                req_cls = w.message_class("signals.v1.SignalRequest")
                sig_cls = w.message_class("signals.v1.Signal")
                req = json_format.Parse('{"symbols":["SYM0001"],"min_strength":0.5}', req_cls())
                got = self.first_messages("StreamSignals", req, sig_cls, 3)
                for sig in got:
                    self.assertEqual(sig.symbol, "SYM0001")
                    self.assertGreaterEqual(sig.strength, 0.5)
                    self.assertGreater(sig.sequence, 0)
                    # What grpcurl prints: the JSON form round-trips.
                    text = json_format.MessageToJson(sig)
                    self.assertIn('"symbol": "SYM0001"', text)
                    self.assertEqual(json_format.Parse(text, sig_cls()), sig)

    def test_batches_with_linger_json_request(self):
        """grpcurl -d '{"linger_ms":20}' ... StreamSignalBatches: the field is
        known to reflection's descriptors, and batches arrive."""
        w = self.walk("v1")
        req_cls = w.message_class("signals.v1.SignalRequest")
        batch_cls = w.message_class("signals.v1.SignalBatch")
        req = json_format.Parse('{"lingerMs":20}', req_cls())
        batches = self.first_messages("StreamSignalBatches", req, batch_cls, 3)
        seqs = [s.sequence for b in batches for s in b.signals]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))


class ReflectionProtocolTests(GrpcurlTestCase):
    """The reflection protocol itself: lookups, errors, ordering, stream end."""

    server_args = ["--rate", "500", "--symbols", "10"]

    def stream(self, ch, version="v1"):
        rs = ReflectionStream(ch, version)
        self.addCleanup(rs.cancel)
        return rs

    def first_file(self, resp):
        self.assertFalse(resp.HasField("error_response"), resp.error_response)
        files = parse_files(resp)
        self.assertTrue(files)
        return files[0].name

    def test_symbols(self):
        """file_containing_symbol for every kind of symbol; the answer's
        first file is the one defining it."""
        cases = [
            ("signals.v1.SignalService", SIGNAL_FILE),
            ("signals.v1.SignalService.StreamSignals", SIGNAL_FILE),
            ("signals.v1.SignalService.StreamSignalBatches", SIGNAL_FILE),
            ("signals.v1.Signal", SIGNAL_FILE),
            ("signals.v1.SignalRequest", SIGNAL_FILE),
            ("signals.v1.SignalBatch", SIGNAL_FILE),
            ("signals.v1.Signal.symbol", SIGNAL_FILE),
            ("signals.v1.Side", SIGNAL_FILE),
            ("signals.v1.SIDE_BUY", SIGNAL_FILE),          # values are the enum's siblings
            ("grpc.health.v1.Health", HEALTH_FILE),
            ("grpc.health.v1.Health.Watch", HEALTH_FILE),
            ("grpc.health.v1.HealthCheckResponse.ServingStatus", HEALTH_FILE),
            ("grpc.health.v1.HealthCheckResponse.SERVICE_UNKNOWN", HEALTH_FILE),
            ("grpc.reflection.v1.ServerReflection", "grpc/reflection/v1/reflection.proto"),
            ("grpc.reflection.v1alpha.ServerReflectionRequest.message_request",
             "grpc/reflection/v1alpha/reflection.proto"),
        ]
        for version in ("v1", "v1alpha"):
            with channel(self.server.target) as ch:
                rs = self.stream(ch, version)
                for sym, file in cases:
                    with self.subTest(version=version, symbol=sym):
                        self.assertEqual(self.first_file(rs.ask(file_containing_symbol=sym)),
                                         file)
                resp = rs.ask(file_by_filename=HEALTH_FILE)
                self.assertEqual([f.name for f in parse_files(resp)], [HEALTH_FILE])
                self.assertEqual(rs.close()[1], grpc.StatusCode.OK)

    def test_not_found_keeps_stream_open(self):
        with channel(self.server.target) as ch:
            rs = self.stream(ch)
            for fields in ({"file_containing_symbol": "signals.v1.NoSuchThing"},
                           {"file_containing_symbol": "signals.v1.Side.SIDE_BUY"},
                           {"file_containing_symbol": ""},
                           {"file_by_filename": "signals/v1/nope.proto"},
                           {"file_by_filename": "google/protobuf/descriptor.proto"},
                           {"all_extension_numbers_of_type": "signals.v1.Nope"},
                           {"all_extension_numbers_of_type": "signals.v1.SignalService"},
                           {"file_containing_extension": {
                               "containing_type": "signals.v1.Nope", "extension_number": 1}},
                           {"file_containing_extension": {
                               "containing_type": "signals.v1.Signal",
                               "extension_number": 100}}):
                with self.subTest(request=fields):
                    resp = rs.ask(**fields)
                    self.assertTrue(resp.HasField("error_response"), resp)
                    self.assertEqual(resp.error_response.error_code, NOT_FOUND)
                    self.assertTrue(resp.error_response.error_message)
            # Still answering, and a request with no question is UNIMPLEMENTED.
            resp = rs.ask(host="h")
            self.assertEqual(resp.error_response.error_code, UNIMPLEMENTED)
            self.assertEqual(self.first_file(rs.ask(file_containing_symbol="signals.v1.Signal")),
                             SIGNAL_FILE)
            self.assertEqual(rs.close()[1], grpc.StatusCode.OK)

    def test_extension_numbers_of_known_type(self):
        """As the C++ server: a known message has no extensions here."""
        with channel(self.server.target) as ch:
            rs = self.stream(ch, "v1alpha")
            resp = rs.ask(all_extension_numbers_of_type="signals.v1.Signal")
            self.assertTrue(resp.HasField("all_extension_numbers_response"), resp)
            self.assertEqual(resp.all_extension_numbers_response.base_type_name,
                             "signals.v1.Signal")
            self.assertEqual(list(resp.all_extension_numbers_response.extension_number), [])

    def test_pipelined_requests_answered_in_order(self):
        """Several requests sent at once on one stream: one answer each, in
        order, each echoing its request and host; then OK on half-close."""
        for version in ("v1", "v1alpha"):
            with self.subTest(version=version), channel(self.server.target) as ch:
                rs = self.stream(ch, version)
                sent = []
                for i in range(12):
                    kind = i % 4
                    host = "host-%d.example:50051" % i
                    if kind == 0:
                        sent.append(rs.send(host=host, list_services=""))
                    elif kind == 1:
                        sent.append(rs.send(host=host, file_containing_symbol="signals.v1.Signal"))
                    elif kind == 2:
                        sent.append(rs.send(host=host, file_by_filename="missing-%d.proto" % i))
                    else:
                        sent.append(rs.send(host=host, file_by_filename=HEALTH_FILE))
                rest, code, details = rs.close()
                self.assertEqual(code, grpc.StatusCode.OK, details)
                self.assertEqual(len(rest), len(sent))
                for req, resp in zip(sent, rest):
                    self.assertEqual(resp.original_request, req)
                    self.assertEqual(resp.valid_host, req.host)
                    which = req.WhichOneof("message_request")
                    if which == "list_services":
                        self.assertEqual(len(resp.list_services_response.service), 4)
                    elif which == "file_containing_symbol":
                        self.assertEqual(parse_files(resp)[0].name, SIGNAL_FILE)
                    elif req.file_by_filename == HEALTH_FILE:
                        self.assertEqual(parse_files(resp)[0].name, HEALTH_FILE)
                    else:
                        self.assertEqual(resp.error_response.error_code, NOT_FOUND)

    def test_immediate_half_close(self):
        with channel(self.server.target) as ch:
            rs = self.stream(ch)
            rest, code, _ = rs.close()
            self.assertEqual((rest, code), ([], grpc.StatusCode.OK))

    def test_garbage_request(self):
        """Bytes that are no ServerReflectionRequest end the stream with
        INVALID_ARGUMENT; the server goes on serving."""
        with channel(self.server.target) as ch:
            call = ch.stream_stream(
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                request_serializer=None, response_deserializer=None)(
                    iter([b"\x0a\xff\xff\xff\xff\x0f"]), timeout=RPC_TIMEOUT)
            with self.assertRaises(grpc.RpcError) as cm:
                list(call)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            rs = self.stream(ch)
            self.assertEqual(len(rs.ask(list_services="").list_services_response.service), 4)

    def test_shutdown_ends_idle_stream(self):
        """An open, idle reflection stream must not hold up shutdown: it ends
        UNAVAILABLE and the server exits long before its grace period."""
        with Server(["--rate", "100", "--grace", "60"]) as srv, channel(srv.target) as ch:
            rs = ReflectionStream(ch, "v1", timeout=60)
            try:
                self.assertEqual(len(rs.ask(list_services="").list_services_response.service), 4)
                t0 = time.monotonic()
                self.assertEqual(srv.stop(signal.SIGTERM, timeout=20), 0)
                self.assertLess(time.monotonic() - t0, 10)
                with self.assertRaises(grpc.RpcError) as cm:
                    rs.recv()
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAVAILABLE)
            finally:
                rs.cancel()


class HealthTests(GrpcurlTestCase):
    """grpc.health.v1.Health: Check, Watch, and NOT_SERVING on shutdown."""

    server_args = ["--rate", "500", "--symbols", "10"]

    def check(self, ch, service):
        pb2, stub_cls = health_api()
        return stub_cls(ch).Check(pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)

    def test_check(self):
        pb2, _ = health_api()
        with channel(self.server.target) as ch:
            for service in ("", "signals.v1.SignalService"):
                with self.subTest(service=service):
                    self.assertEqual(self.check(ch, service).status,
                                     pb2.HealthCheckResponse.SERVING)

    def test_check_unknown_service(self):
        with channel(self.server.target) as ch:
            for service in ("nope", "signals.v1.SignalService.StreamSignals", "x" * 1000):
                with self.subTest(service=service[:40]):
                    with self.assertRaises(grpc.RpcError) as cm:
                        self.check(ch, service)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_check_bad_request(self):
        """Bytes that are no HealthCheckRequest: INVALID_ARGUMENT, for Check
        and Watch alike."""
        with channel(self.server.target) as ch:
            for method in ("Check", "Watch"):
                with self.subTest(method=method):
                    call = ch.unary_stream("/grpc.health.v1.Health/" + method)(
                        b"\x0a\xff\xff\xff\xff\x0f", timeout=RPC_TIMEOUT)
                    with self.assertRaises(grpc.RpcError) as cm:
                        list(call)
                    self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_watch_unknown_service_stays_open(self):
        pb2, stub_cls = health_api()
        with channel(self.server.target) as ch:
            call = stub_cls(ch).Watch(pb2.HealthCheckRequest(service="nope"), timeout=RPC_TIMEOUT)
            try:
                self.assertEqual(next(call).status, pb2.HealthCheckResponse.SERVICE_UNKNOWN)
                time.sleep(1.0)
                self.assertTrue(call.is_active(), "Watch of an unknown service ended: %s %r" % (
                    call.code() if not call.is_active() else None,
                    call.details() if not call.is_active() else None))
                # The server still answers on the same connection.
                self.assertEqual(self.check(ch, "").status, pb2.HealthCheckResponse.SERVING)
            finally:
                call.cancel()

    def test_watch_many(self):
        """Watchers come and go; each gets the current status at once."""
        pb2, stub_cls = health_api()
        with channel(self.server.target) as ch:
            calls = [stub_cls(ch).Watch(pb2.HealthCheckRequest(service=s), timeout=RPC_TIMEOUT)
                     for s in ("", "signals.v1.SignalService") * 10]
            try:
                for c in calls:
                    self.assertEqual(next(c).status, pb2.HealthCheckResponse.SERVING)
            finally:
                for c in calls:
                    c.cancel()
        self.assertEqual(self.server.running(), True)

    def test_watch_sees_not_serving_on_sigterm(self):
        """Watch: SERVING at once; on SIGTERM NOT_SERVING, before the signal
        streams are ended; then the Watch ends so the server can stop."""
        pb2, stub_cls = health_api()
        with Server(["--rate", "500", "--symbols", "10", "--grace", "30"]) as srv, \
                channel(srv.target) as ch, channel(srv.target) as ch2:
            h.stubs()
            watches = {s: stub_cls(ch).Watch(pb2.HealthCheckRequest(service=s), timeout=60)
                       for s in ("", "signals.v1.SignalService", "nope")}
            stream = h.open_stream(ch, timeout=60)
            other = h.open_stream(ch2, timeout=60)
            try:
                for s, call in watches.items():
                    want = pb2.HealthCheckResponse.SERVICE_UNKNOWN if s == "nope" \
                        else pb2.HealthCheckResponse.SERVING
                    self.assertEqual(next(call).status, want, s)
                h.take(stream, 1, "signal stream")
                h.take(other, 1, "signal stream")
                srv.send_signal(signal.SIGTERM)
                for s in ("", "signals.v1.SignalService"):
                    self.assertEqual(next(watches[s]).status,
                                     pb2.HealthCheckResponse.NOT_SERVING, s)
                for s, call in watches.items():
                    rest, code, details = h.drain(call)
                    self.assertEqual(rest, [], s)
                    self.assertIn(code, (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK),
                                  "%s: %r" % (s, details))
                for st in (stream, other):
                    _, code, details = h.drain(st)
                    self.assertEqual(code, grpc.StatusCode.UNAVAILABLE, details)
                self.assertEqual(srv.wait_exit(20), 0, srv.log()[-3000:])
            finally:
                for call in list(watches.values()) + [stream, other]:
                    call.cancel()
            log = srv.log()
            told = re.search(r"event=health_not_serving\b.*\bwatchers=(\d+) all_told=yes", log)
            self.assertTrue(told, log[-3000:])
            self.assertEqual(int(told.group(1)), 3)
            closed = re.search(r"event=stream_close\b.*\breason=shutdown", log)
            self.assertTrue(closed, log[-3000:])
            self.assertLess(told.start(), closed.start(),
                            "a signal stream ended before health went NOT_SERVING")


if __name__ == "__main__":
    unittest.main()
