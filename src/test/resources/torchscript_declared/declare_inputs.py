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

Also written, for the output-selection and refusal tests (tiny random modules, input x [-1, 6]):
  tuple_out.pt   forward returns (features [N, 4], logits [N, 3]): logits_output "1"
  dict_out.pt    forward returns {"logits": [N, 3], "features": [N, 4]}: logits_output "logits"
  one_logit.pt   forward returns [N, 1] (too few logits for softmax cross-entropy)
  int_out.pt     forward returns argmax, int64 [N] (not differentiable)
  unused.pt      a parameter `spare` that forward never reads

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


class TupleOut(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(6, 4)
        self.head = torch.nn.Linear(4, 3)

    def forward(self, x):
        h = torch.tanh(self.body(x))
        return h, self.head(h)


class DictOut(TupleOut):
    def forward(self, x):
        h = torch.tanh(self.body(x))
        return {"logits": self.head(h), "features": h}


class OneLogit(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 1)

    def forward(self, x):
        return self.fc(x)


class IntOut(OneLogit):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        return torch.argmax(self.fc(x), dim=1)


class Unused(IntOut):
    def __init__(self):
        super().__init__()
        self.spare = torch.nn.Parameter(torch.ones(2))

    def forward(self, x):
        return self.fc(x)


torch.manual_seed(5)
x6 = {"inputs": [{"name": "x", "element_type": "float", "dims": [-1, 6]}]}
for name, module in (("tuple_out", TupleOut()), ("dict_out", DictOut()), ("one_logit", OneLogit()),
                     ("int_out", IntOut()), ("unused", Unused())):
    torch.jit.save(torch.jit.script(module.eval()), os.path.join(HERE, name + ".pt"),
                   _extra_files={"lethe.json": json.dumps(x6)})
