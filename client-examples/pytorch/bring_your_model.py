#!/usr/bin/python3
"""Bring your PyTorch model to Lethe, end to end (needs torch, onnx and numpy; run by hand).

1. Trains a small MLP (64-32-10, tanh) on the UCI digits (1797 8x8 images, pixels 0..16) with
   the pixels scaled to [0, 1] and L2 weight decay, to a minimum (full-batch L-BFGS; SSSE assumes
   the weights minimise the regularised training loss).
2. Exports it to ONNX with the logits as a named output and a dynamic batch dimension.
3. Unless --export-only: uploads it with `lethe put-model` (train_size, l2 and the pixel scaling
   in the spec), builds its Fisher with `lethe build-fisher`, erases samples with `lethe erase`
   (ids from a file, one per row), fetches the erased version with `lethe get-model`, loads its
   weights back into the torch model and compares it with retraining without the erased samples.

    /usr/bin/python3 client-examples/pytorch/bring_your_model.py --data digits.csv.gz \
        --lethe "java -jar target/lethe.jar" --target 127.0.0.1:50051

The committed client-examples/pytorch/digits_mlp.onnx is this script's export (--export-only,
seed 0); the README's "Bring your PyTorch model" section uploads it.
"""
import argparse
import gzip
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

L2 = 1e-3            # weight decay mu: the spec's l2 (PyTorch's weight_decay, on every parameter)
SCALE = 1.0 / 16     # pixels 0..16 -> [0, 1]: the spec's feature_scale


def load_digits(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return rows[:, :-1], rows[:, -1].astype(np.int64)


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10))


def objective(model, x, y):
    """Mean cross-entropy plus mu/2 |theta|^2: the loss Lethe's spec (l2) describes."""
    ce = torch.nn.functional.cross_entropy(model(x), y)
    return ce + 0.5 * L2 * sum((p * p).sum() for p in model.parameters())


def train_to_minimum(model, x, y, steps=60):
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=50, tolerance_grad=1e-9,
                            tolerance_change=1e-12, history_size=50,
                            line_search_fn="strong_wolfe")
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = objective(model, x, y)
            loss.backward()
            return loss
        opt.step(closure)
    opt.zero_grad()
    loss = objective(model, x, y)
    loss.backward()
    grad = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())).item()
    return loss.item(), grad


def flat(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def export(model, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 64), path, input_names=["pixels"],
                      output_names=["logits"],
                      dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=13, do_constant_folding=True)


def lethe(cmd, args, target):
    full = shlex.split(cmd) + args + ["--target", target]
    print("$", " ".join(full[len(shlex.split(cmd)) - 1:]))
    out = subprocess.run(full, check=True, capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    return out.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="digits.csv.gz")
    ap.add_argument("--out", default="digits_mlp.onnx")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--lethe", default="java -jar target/lethe.jar")
    ap.add_argument("--target", default="127.0.0.1:50051")
    ap.add_argument("--name", default="digits-mlp-torch")
    ap.add_argument("--erase", default="5,6,7", help="rows to erase (0-based)")
    a = ap.parse_args()

    raw, labels = load_digits(a.data)
    x = torch.tensor(raw * SCALE, dtype=torch.float32)
    y = torch.tensor(labels)
    model = make_model()
    loss, grad = train_to_minimum(model, x, y)
    acc = (model(x).argmax(1) == y).float().mean().item()
    print(f"trained on {len(y)} samples: objective {loss:.6f}, gradient norm {grad:.2e}, "
          f"training accuracy {acc:.4f}")
    export(model, a.out)
    print(f"exported {a.out}: input 'pixels' [batch, 64], output 'logits' [batch, 10]")
    if a.export_only:
        return

    rows = [int(r) for r in a.erase.split(",")]
    with tempfile.TemporaryDirectory() as work:
        ids = os.path.join(work, "digits.ids")
        with open(ids, "w") as f:
            f.writelines(f"digits:{i}\n" for i in range(len(y)))
        lethe(a.lethe, ["put-model", a.out, "--name", a.name, "--loss", "SOFTMAX_CROSS_ENTROPY",
                        "--logits", "logits", "--train-size", str(len(y)), "--l2", str(L2),
                        "--feature-scale", str(SCALE), "--feature-range", "0,1"], a.target)
        lethe(a.lethe, ["build-fisher", "--model", a.name, "--data", a.data], a.target)
        lethe(a.lethe, ["erase", "--model", a.name, "--data", a.data, "--ids-from", ids,
                        "--rows", ",".join(map(str, rows)), "--request-id",
                        f"{a.name}-example"], a.target)
        erased_file = os.path.join(work, "erased.onnx")
        lethe(a.lethe, ["get-model", a.name, "-o", erased_file], a.target)
        weights = {t.name: numpy_helper.to_array(t)
                   for t in onnx.load(erased_file).graph.initializer}

    erased = make_model()
    erased.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    keep = torch.ones(len(y), dtype=torch.bool)
    keep[rows] = False
    retrained = make_model()
    retrained.load_state_dict(model.state_dict())  # warm start: the minimiser of D \ S nearby
    train_to_minimum(retrained, x[keep], y[keep])
    before, after, exact = flat(model), flat(erased), flat(retrained)
    distance = ((after - exact).norm() / (before - exact).norm()).item()
    with torch.no_grad():
        f = lambda m: torch.nn.functional.cross_entropy(m(x[rows]), y[rows]).item()
        print(f"loss on the erased samples: trained {f(model):.4f}, erased {f(erased):.4f}, "
              f"retrained without them {f(retrained):.4f}")
    print(f"|erased - retrained| / |trained - retrained| = {distance:.3f} (0 = exact, 1 = no step)")
    if not distance < 1:
        sys.exit("the erase did not move the weights toward the retrained ones")


if __name__ == "__main__":
    main()
