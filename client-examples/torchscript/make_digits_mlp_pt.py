#!/usr/bin/python3
"""Writes digits_mlp.pt (committed; needs Debian's python3-torch and python3-onnx, run by hand):
the 64-32-10 tanh MLP of ../pytorch/digits_mlp.onnx (trained on the 1797 digits scaled to [0, 1]
with mu = 1e-3 by ../pytorch/bring_your_model.py) as a TorchScript module with the same weights
and its parameters named layers.0.weight, layers.0.bias, layers.2.weight, layers.2.bias, its input declared in the
archive's extra file lethe.json as Lethe needs:

    torch.jit.save(torch.jit.script(model), "digits_mlp.pt",
                   _extra_files={"lethe.json": json.dumps({"inputs": [
                       {"name": "pixels", "element_type": "float", "dims": [-1, 64]}]})})

    /usr/bin/python3 make_digits_mlp_pt.py
"""
import json
import os

import onnx
import torch
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
           for t in onnx.load(os.path.join(HERE, "..", "pytorch", "digits_mlp.onnx")).graph.initializer}


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = torch.nn.ModuleList([torch.nn.Linear(64, 32), torch.nn.Tanh(), torch.nn.Linear(32, 10)])

    def forward(self, pixels):
        h = pixels
        for layer in self.layers:
            h = layer(h)
        return h


model = Mlp().eval()
weights = {"layers." + k: v for k, v in weights.items()}
model.load_state_dict(weights)
decl = {"inputs": [{"name": "pixels", "element_type": "float", "dims": [-1, 64]}]}
torch.jit.save(torch.jit.script(model), os.path.join(HERE, "digits_mlp.pt"),
               _extra_files={"lethe.json": json.dumps(decl)})
print({n: tuple(p.shape) for n, p in model.named_parameters()})
