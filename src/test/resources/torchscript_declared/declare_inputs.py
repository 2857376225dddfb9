#!/usr/bin/python3
"""Writes the TorchScript fixtures of ../torchscript/ with their inputs declared (not run by CI;
the outputs are committed).

A TorchScript archive records neither the element types nor the shapes of forward's arguments,
so Lethe reads them from the archive's extra file lethe.json (see README, "TorchScript models").
For each family this loads ../torchscript/<family>.pt, takes the inputs' names, element types
and per-sample shapes from ../torchscript/<family>.ref.pb (input:<name>), and saves the same
module with

    torch.jit.save(module, "<family>.pt", _extra_files={"lethe.json": json.dumps(
        {"inputs": [{"name": ..., "element_type": "float" | "int64", "dims": [-1, ...]}]})})

as a user would. The parameters and buffers are those of ../torchscript/<family>.pt, so the
references beside those files hold for these archives too.

    /usr/bin/python3 declare_inputs.py
"""
import json
import os

import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "torchscript")

for family in ("mlp", "cnn_bn", "gru", "transformer"):
    ref = onnx.GraphProto()
    with open(os.path.join(SRC, family + ".ref.pb"), "rb") as f:
        ref.ParseFromString(f.read())
    inputs = []
    for t in ref.initializer:
        if t.name.startswith("input:"):
            a = numpy_helper.to_array(t)
            inputs.append({"name": t.name[len("input:"):],
                           "element_type": "int64" if a.dtype.kind == "i" else "float",
                           "dims": [-1] + list(a.shape[1:])})
    m = torch.jit.load(os.path.join(SRC, family + ".pt"))
    torch.jit.save(m, os.path.join(HERE, family + ".pt"),
                   _extra_files={"lethe.json": json.dumps({"inputs": inputs})})
    print(family, inputs, {n: p.requires_grad for n, p in list(m.named_parameters())[:2]})
