#!/usr/bin/python3
"""A TorchScript model through Lethe from Python: upload digits_mlp.pt (a TorchScript archive
whose inputs are declared in its extra file lethe.json), check that version 1 is served bit for
bit, build its Fisher, erase samples with both steps, fetch the erased version and check that it
is the upload with only the erasable parameters' storages changed. Uses Debian's python3-grpcio
and python3-grpc-tools and the standard library (zipfile); no torch. When python3-torch is
installed it also loads the erased file with torch.jit.load and checks that its logits give the
loss the sidecar reports.

usage: /usr/bin/python3 lethe_torchscript.py [--target HOST:PORT] --data digits.csv.gz
"""
import argparse
import hashlib
import io
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import lethe_example  # noqa: E402  (stub generation and the digits reader)

import grpc  # noqa: E402


def fetch(store, pb, name, version=0):
    chunks = list(store.GetModel(pb.GetModelRequest(name=name, version=version)))
    data = b"".join(c.chunk for c in chunks[1:])
    assert hashlib.sha256(data).hexdigest() == chunks[0].header.sha256, "download corrupt"
    return chunks[0].header.version, data


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", default=os.environ.get("LETHE_TARGET", "127.0.0.1:50051"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--name", default="digits-torchscript")
    args = parser.parse_args()
    pb, rpc = lethe_example.load_stubs()
    store = rpc.ModelStoreStub(grpc.insecure_channel(args.target))
    with open(os.path.join(HERE, "digits_mlp.pt"), "rb") as f:
        archive = f.read()
    n = 300
    features, labels = lethe_example.read_digits(args.data, n)
    features = [v / 16 for v in features]  # the model was trained on pixels scaled to [0, 1]

    # 1. Upload (format TORCHSCRIPT; leaving it unspecified is detected too). Idempotent: a
    #    second run finds the model and its erasures from the first.
    existing = [m for m in store.ListModels(pb.ListModelsRequest()).models if m.name == args.name]
    if existing:
        info = existing[0]
        print("found", info.name, "version", info.active_version, "(an earlier run)")
    else:
        spec = pb.ModelSpec(name=args.name, loss=pb.SOFTMAX_CROSS_ENTROPY, train_size=n, l2=0.001,
                            format=pb.TORCHSCRIPT)
        info = store.PutModel(iter([pb.PutModelRequest(spec=spec), pb.PutModelRequest(chunk=archive)]))
        print("uploaded", info.name, "version", info.active_version, "format",
              pb.ModelFormat.Name(info.format), "erasable", list(info.spec.erasable_parameters))
        assert fetch(store, pb, args.name, 1)[1] == archive, "version 1 is the upload, bit for bit"
    assert info.format == pb.TORCHSCRIPT and list(info.inputs[0].dims) == [-1, 64]

    def batch(rows):
        return pb.SampleBatch(
            ids=["digits:%d" % i for i in rows],
            inputs={"pixels": pb.Tensor(dims=[len(rows), 64],
                                        float_data=[features[i * 64 + j] for i in rows for j in range(64)])},
            labels=pb.Tensor(dims=[len(rows)], int64_data=[labels[i] for i in rows]))

    # 2. Evaluate, then build the Fisher (TRUE, the default) from the training samples, once.
    ev = store.Evaluate(pb.EvaluateRequest(name=args.name, samples=batch(range(n))))
    print("accuracy %.4f, mean loss %.4f" % (ev.accuracy, ev.mean_loss))
    if not info.fisher_ready:
        def fisher_stream():
            yield pb.BuildFisherRequest(options=pb.FisherOptions(name=args.name, samples=n))
            yield pb.BuildFisherRequest(samples=batch(range(0, 150)))
            yield pb.BuildFisherRequest(samples=batch(range(150, n)))
        last = None
        for progress in store.BuildFisher(fisher_stream()):
            last = progress
        assert last.done, "BuildFisher did not finish"
        print("fisher", last.summary.fisher_id, "blocks", last.summary.blocks)

    # 3. Erase two samples with each step (idempotent by request id).
    for step, rows, request in ((pb.LEAVE_OUT, [0, 1], "ts-example-1"), (pb.FULL_FISHER, [2, 3], "ts-example-2")):
        r = store.Erase(pb.EraseRequest(name=args.name, request_id=request, samples=batch(rows), step=step))
        print("erased", r.erased, "with", pb.EraseStep.Name(r.step), "-> version", r.version,
              "loss before %.4f after %.4f" % (r.loss_before, r.loss_after))
    assert r.version == 3

    # 4. Fetch the erased version: the upload's entries, only the parameters' storages changed.
    version, erased = fetch(store, pb, args.name)
    assert version == 3 and len(erased) == len(archive)
    before, after = zipfile.ZipFile(io.BytesIO(archive)), zipfile.ZipFile(io.BytesIO(erased))
    assert before.namelist() == after.namelist()
    changed = [e for e in before.namelist() if before.read(e) != after.read(e)]
    assert changed and all("/data/" in e for e in changed), changed
    print("fetched version", version, len(erased), "bytes;", len(changed), "storages changed:", changed)

    # 5. With torch: the erased file loads and gives the sidecar's loss.
    try:
        import torch
    except ImportError:
        print("(python3-torch not installed: torch.jit.load check skipped)")
    else:
        m = torch.jit.load(io.BytesIO(erased))
        x = torch.tensor(features[:64 * 10]).reshape(10, 64)
        loss = torch.nn.functional.cross_entropy(m(x), torch.tensor(labels[:10]), reduction="none")
        ev = store.Evaluate(pb.EvaluateRequest(name=args.name, samples=batch(range(10))))
        assert max(abs(a - b) for a, b in zip(loss.tolist(), ev.losses)) < 1e-4
        print("torch.jit.load: the erased file's losses equal the sidecar's")
    print("torchscript example: OK")


if __name__ == "__main__":
    main()
