#!/usr/bin/python3
"""Checks a TorchScript archive that Lethe composed (run by TorchLoadCheckTest when Debian's
/usr/bin/python3 has torch; CI does not need it):

    /usr/bin/python3 check_composed.py <composed.pt> <expected.pb>

expected.pb is an ONNX GraphProto used as a container of named tensors (the format of the
fixtures' .ref.pb): param:<name> / buffer:<name> for every state_dict entry with the values the
composed file must hold, and optionally input:<name> tensors to run the module on.

Passes (exit 0, prints "ok ...") when Python's zipfile finds every entry's CRC-32 valid, the file
loads with torch.jit.load, its state_dict has exactly the expected names, in order, with values
bit for bit equal to the expected ones and the expected parameter/buffer split, and the module
runs on the inputs to finite outputs. Otherwise prints what differs and exits 1.
"""
import sys
import zipfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper


def main(path, expected_path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
        if bad is not None:
            print("CRC-32 mismatch in entry", bad)
            return 1
    m = torch.jit.load(path)
    g = onnx.GraphProto()
    with open(expected_path, "rb") as f:
        g.ParseFromString(f.read())
    expected, kinds, inputs = {}, {}, {}
    for t in g.initializer:
        kind, _, name = t.name.partition(":")
        if kind in ("param", "buffer"):
            expected[name] = numpy_helper.to_array(t)
            kinds[name] = kind
        elif kind == "input":
            inputs[name] = torch.from_numpy(numpy_helper.to_array(t).copy())
    sd = m.state_dict()
    if list(sd.keys()) != list(expected.keys()):
        print("state_dict names differ:", list(sd.keys()), "expected", list(expected.keys()))
        return 1
    params = {n for n, _ in m.named_parameters()}
    for name, want in expected.items():
        got = sd[name].detach().contiguous().numpy()
        if got.dtype != want.dtype or got.shape != want.shape or got.tobytes() != want.tobytes():
            print("tensor", name, "differs:", got.dtype, got.shape, "expected", want.dtype, want.shape)
            return 1
        if kinds[name] == "param" and name not in params and not any(
                sd[name].data_ptr() == sd[p].data_ptr() for p in params):
            print(name, "is not a parameter in torch")
            return 1
    ran = ""
    if inputs:
        with torch.no_grad():
            out = m(*inputs.values())
        if not torch.isfinite(out).all():
            print("the module's outputs are not finite")
            return 1
        ran = f", ran on inputs to outputs {list(out.shape)}"
    print(f"ok {len(expected)} tensors bit for bit{ran}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
