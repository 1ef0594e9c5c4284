"""sigstreamd under valgrind: a session that touches every path a call can
take (both RPCs, filters, a replay, a client cancel, a bad request, an
unknown method, health and reflection), then SIGTERM. The server must exit 0
with no memory error and nothing definitely or indirectly lost: the leak
check the sanitizers cannot make on the uninstrumented gRPC library's side.

    SIGSTREAMD=build/server/sigstreamd SIGSTREAM_SOURCE_ROOT=. \\
        /usr/bin/python3 test/e2e/test_valgrind.py -v

Registered for builds without sanitizers (valgrind cannot run ASan/TSan
binaries); slow by nature (valgrind runs the server ~30x slower).
"""

import os
import re
import shutil
import signal
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import harness as h  # noqa: E402
from harness import Server, channel, open_stream, take  # noqa: E402

VALGRIND = shutil.which("valgrind")
RESUME_RE = re.compile(r"shutting down.*resume from sequence (\d+)", re.I | re.S)


def identity(x):
    return x


@unittest.skipIf(VALGRIND is None, "valgrind is not installed")
@unittest.skipIf(h.binary_is_sanitized(), "valgrind cannot run a sanitizer build")
class ValgrindTests(unittest.TestCase):
    def test_session_then_sigterm_is_clean(self):
        wrapper = [VALGRIND, "--leak-check=full", "--show-leak-kinds=definite,indirect",
                   "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                   "--track-origins=no"]
        srv = Server(["--rate", "500", "--symbols", "20", "--grace", "20"],
                     wrapper=wrapper, log_level="info", start_timeout=90).start()
        live = []
        try:
            with channel(srv.target) as ch:
                h.wait_ready(ch, 60)
                # Streams that stay open until the shutdown.
                live.append(open_stream(ch, timeout=120))
                live.append(open_stream(ch, timeout=120, symbols=["SYM0001", "SYM0002"],
                                        min_strength=0.1))
                live.append(open_stream(ch, timeout=120, batches=True))
                for call in live:
                    take(call, 2)
                # A replay, ended by the client (cancel frees it at once).
                replay = open_stream(ch, timeout=120, from_sequence=1)
                take(replay, 5)
                replay.cancel()
                # Refused requests: bad fields, an unknown method.
                msgs, code, _ = h.expect_error(ch, h.request(symbols=["A B"]), timeout=60)
                self.assertEqual(code, grpc.StatusCode.INVALID_ARGUMENT)
                unknown = ch.unary_unary("/signals.v1.SignalService/Nope",
                                         request_serializer=identity,
                                         response_deserializer=identity)
                with self.assertRaises(grpc.RpcError) as cm:
                    unknown(b"", timeout=60)
                self.assertEqual(cm.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
                # Health Check (empty service: the server) and a reflection
                # list_services (field 7) on one bidirectional stream.
                check = ch.unary_unary("/grpc.health.v1.Health/Check",
                                       request_serializer=identity,
                                       response_deserializer=identity)
                self.assertEqual(check(b"", timeout=60), b"\x08\x01")  # SERVING
                info = ch.stream_stream(
                    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                    request_serializer=identity, response_deserializer=identity)
                answers = list(info(iter([b"\x3a\x00"]), timeout=60))
                self.assertEqual(len(answers), 1)
                self.assertIn(b"signals.v1.SignalService", answers[0])
                code = srv.stop(signal.SIGTERM, timeout=120)
                for call in live:
                    msgs, status, details = h.drain(call)
                    self.assertEqual(status, grpc.StatusCode.UNAVAILABLE, details)
                    self.assertRegex(details or "", RESUME_RE)
        finally:
            for call in live:
                call.cancel()
            if srv.running():
                srv.stop(signal.SIGKILL, timeout=30)
        log = srv.log()
        summary = "\n".join(line for line in log.splitlines() if line.startswith("=="))
        self.assertEqual(code, 0, "exit code (99: valgrind found errors or leaks):\n"
                         + summary[-4000:])
        # The verdict lines, for the test log.
        sys.stderr.write("\n".join(line for line in summary.splitlines()
                                   if re.search(r"SUMMARY|lost:|reachable:|in use at exit", line))
                         + "\n")
        self.assertRegex(log, r"ERROR SUMMARY: 0 errors")
        self.assertNotRegex(log, r"definitely lost: [1-9]")


if __name__ == "__main__":
    unittest.main()
