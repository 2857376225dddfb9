#!/usr/bin/python3
"""Lethe from Python: upload a model, evaluate it, build its Fisher, erase samples, fetch the
new version. Uses Debian's python3-grpcio and python3-grpc-tools; stubs are generated from
../../proto at run time (no PyPI).

usage: /usr/bin/python3 lethe_example.py [--target HOST:PORT] --data digits.csv.gz
"""
import argparse
import gzip
import hashlib
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.join(HERE, "..", "..", "proto")


def load_stubs():
    out = tempfile.mkdtemp(prefix="lethe-stubs-")
    code = protoc.main(["grpc_tools.protoc", "-I" + PROTO_ROOT, "--python_out=" + out,
                        "--grpc_python_out=" + out,
                        os.path.join(PROTO_ROOT, "lethe", "v1", "model_store.proto")])
    if code != 0:
        sys.exit("protoc failed")
    sys.path.insert(0, out)
    from lethe.v1 import model_store_pb2, model_store_pb2_grpc
    return model_store_pb2, model_store_pb2_grpc


def read_digits(path, rows):
    with gzip.open(path, "rt") if path.endswith(".gz") else open(path) as f:
        data = [line.strip().split(",") for line in f if line.strip()][:rows]
    features = [float(v) for row in data for v in row[:64]]
    labels = [int(float(row[64])) for row in data]
    return features, labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default=os.environ.get("LETHE_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--name", default="digits-python")
    args = parser.parse_args()
    pb, rpc = load_stubs()
    channel = grpc.insecure_channel(args.target)
    store = rpc.ModelStoreStub(channel)

    # 1. Fetch the sidecar's demo model; upload it as our own model. Idempotent: a second run
    #    finds the model (and its erasure) from the first and uses it as it is, since uploading
    #    the pre-erasure file again would need the trained_without_erased attestation.
    chunks = list(store.GetModel(pb.GetModelRequest(name="digits")))
    onnx = b"".join(c.chunk for c in chunks[1:])
    assert hashlib.sha256(onnx).hexdigest() == chunks[0].header.sha256, "download corrupt"
    n = 200
    features, labels = read_digits(args.data, n)
    existing = [m for m in store.ListModels(pb.ListModelsRequest()).models if m.name == args.name]
    if existing:
        info = existing[0]
        print("found", info.name, "version", info.active_version, "(an earlier run)")
    else:
        spec = pb.ModelSpec(name=args.name, loss=pb.SOFTMAX_CROSS_ENTROPY, logits_output="logits",
                            train_size=n, l2=0.001, feature_min=0, feature_max=16)
        info = store.PutModel(iter([pb.PutModelRequest(spec=spec), pb.PutModelRequest(chunk=onnx)]))
        print("uploaded", info.name, "version", info.active_version)

    def batch(rows):
        return pb.SampleBatch(
            ids=["digits:%d" % i for i in rows],
            inputs={"pixels": pb.Tensor(dims=[len(rows), 64],
                                        float_data=[features[i * 64 + j] for i in rows for j in range(64)])},
            labels=pb.Tensor(dims=[len(rows)], int64_data=[labels[i] for i in rows]))

    # 2. Evaluate.
    ev = store.Evaluate(pb.EvaluateRequest(name=args.name, samples=batch(range(n))))
    print("accuracy %.4f, mean loss %.4f" % (ev.accuracy, ev.mean_loss))

    # 3. Build the inverse-Fisher cache from the training samples (options, then batches), once.
    def fisher_stream():
        yield pb.BuildFisherRequest(options=pb.FisherOptions(name=args.name, samples=n))
        yield pb.BuildFisherRequest(samples=batch(range(0, 100)))
        yield pb.BuildFisherRequest(samples=batch(range(100, n)))
    if info.fisher_ready:
        print("fisher", info.fisher.fisher_id, "of", info.fisher.samples, "samples (an earlier run)")
    else:
        last = None
        for progress in store.BuildFisher(fisher_stream()):
            last = progress
        assert last.done, "BuildFisher did not finish"
        print("fisher", last.summary.fisher_id, "blocks", last.summary.blocks)

    # 4. Erase three samples (idempotent by request id: a second run gets the first answer).
    erased = store.Erase(pb.EraseRequest(name=args.name, request_id="python-example-1",
                                         samples=batch([0, 1, 2])))
    print("erased", erased.erased, "-> version", erased.version,
          "loss before %.4f after %.4f" % (erased.loss_before, erased.loss_after))
    assert erased.erased == 3 and erased.version == 2

    # 5. Fetch the new version and check it.
    chunks = list(store.GetModel(pb.GetModelRequest(name=args.name)))
    onnx2 = b"".join(c.chunk for c in chunks[1:])
    assert chunks[0].header.version == 2
    assert hashlib.sha256(onnx2).hexdigest() == chunks[0].header.sha256
    print("fetched version", chunks[0].header.version, len(onnx2), "bytes")

    # 6. A bad request gets a clear status.
    try:
        store.Evaluate(pb.EvaluateRequest(name="no-such-model", samples=batch([0])))
        sys.exit("expected NOT_FOUND")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e.code()
        print("unknown model ->", e.code().name)
    print("python example: OK")


if __name__ == "__main__":
    main()
