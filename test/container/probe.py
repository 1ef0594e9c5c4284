#!/usr/bin/python3
"""An independent gRPC client for the container tests (test/container/run.sh).

Debian's /usr/bin/python3 with python3-grpcio; stubs generated at run time
with protoc (signal.proto through test/e2e/harness.py's stubs(); the health
proto from Debian's grpc-proto, generated under a folder that is not named
grpc/ so it cannot shadow the grpc package).

  probe.py stream TARGET COUNT [--timeout S] [--batches]
      waits up to --timeout for the server, reads COUNT signals from
      StreamSignals, checks their sequences increase; prints a summary line
  probe.py health TARGET [SERVICE] [--timeout S]
      grpc.health.v1.Health/Check; prints the status

Exit status: 0 ok (health: SERVING), 1 failure, 3 health: the server does not
implement grpc.health.v1 (UNIMPLEMENTED).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))
os.environ.setdefault("SIGSTREAM_SOURCE_ROOT", ROOT)

import grpc  # noqa: E402  (Debian's python3-grpcio)
import harness  # noqa: E402  (test/e2e/harness.py: stubs())

HEALTH_PROTO = "/usr/share/grpc-proto/grpc/health/v1/health.proto"


def health_stubs():
    """(health_pb2, health_pb2_grpc), generated into a temporary folder."""
    if not os.path.isfile(HEALTH_PROTO):
        raise RuntimeError("%s is missing (Debian package grpc-proto)" % HEALTH_PROTO)
    out = tempfile.mkdtemp(prefix="sigstream-container-health-")
    try:
        src = os.path.join(out, "src", "sshealth", "v1")
        os.makedirs(src)
        shutil.copy(HEALTH_PROTO, src)
        plugin = shutil.which("grpc_python_plugin") or "/usr/bin/grpc_python_plugin"
        subprocess.run(["protoc", "-I", os.path.join(out, "src"), "--python_out=" + out,
                        "--grpc_python_out=" + out, "--plugin=protoc-gen-grpc_python=" + plugin,
                        "sshealth/v1/health.proto"], check=True, timeout=60)
        sys.path.insert(0, out)
        import importlib
        importlib.invalidate_caches()
        return (importlib.import_module("sshealth.v1.health_pb2"),
                importlib.import_module("sshealth.v1.health_pb2_grpc"))
    finally:
        # The modules are imported: their files are no longer needed.
        shutil.rmtree(out, True)


def connect(target, timeout):
    ch = grpc.insecure_channel(target, options=[("grpc.enable_retries", 0)])
    try:
        grpc.channel_ready_future(ch).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        ch.close()
        raise SystemExit("probe: no connection to %s within %.0f s" % (target, timeout))
    return ch


def cmd_stream(a):
    pb2, pb2_grpc = harness.stubs()
    t0 = time.monotonic()
    with connect(a.target, a.timeout) as ch:
        stub = pb2_grpc.SignalServiceStub(ch)
        method = stub.StreamSignalBatches if a.batches else stub.StreamSignals
        call = method(pb2.SignalRequest(), timeout=a.timeout)
        seqs = []
        try:
            for msg in call:
                for sig in (msg.signals if a.batches else [msg]):
                    seqs.append(sig.sequence)
                if len(seqs) >= a.count:
                    break
        except grpc.RpcError as e:
            print("probe: stream ended after %d signals: %s %s" % (len(seqs), e.code(),
                                                                    e.details()))
            return 1
        finally:
            call.cancel()
    dt = time.monotonic() - t0
    if len(seqs) < a.count:
        print("probe: the stream ended after %d of %d signals" % (len(seqs), a.count))
        return 1
    bad = [i for i in range(1, len(seqs)) if seqs[i] <= seqs[i - 1]]
    if bad:
        print("probe: sequences do not increase at %d: %r" % (bad[0], seqs[bad[0] - 1:bad[0] + 1]))
        return 1
    print("probe: %d signals from %s in %.2f s, sequences %d..%d" % (
        len(seqs), a.target, dt, seqs[0], seqs[-1]))
    return 0


def cmd_health(a):
    hpb2, hpb2_grpc = health_stubs()
    with connect(a.target, a.timeout) as ch:
        stub = hpb2_grpc.HealthStub(ch)
        deadline = time.monotonic() + a.timeout
        while True:
            try:
                resp = stub.Check(hpb2.HealthCheckRequest(service=a.service), timeout=5)
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                    print("probe: %s does not implement grpc.health.v1.Health (%s)" % (
                        a.target, e.details()))
                    return 3
                print("probe: Check(%r): %s %s" % (a.service, e.code(), e.details()))
                return 1
            name = hpb2.HealthCheckResponse.ServingStatus.Name(resp.status)
            # NOT_SERVING right after start is allowed for a moment.
            if resp.status == hpb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    print("probe: Check(%r) at %s: %s" % (a.service, a.target, name))
    return 0 if resp.status == hpb2.HealthCheckResponse.SERVING else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stream")
    s.add_argument("target")
    s.add_argument("count", type=int)
    s.add_argument("--timeout", type=float, default=20.0)
    s.add_argument("--batches", action="store_true")
    h = sub.add_parser("health")
    h.add_argument("target")
    h.add_argument("service", nargs="?", default="")
    h.add_argument("--timeout", type=float, default=20.0)
    a = p.parse_args()
    return cmd_stream(a) if a.cmd == "stream" else cmd_health(a)


if __name__ == "__main__":
    sys.exit(main())
