#!/usr/bin/python3
"""Writes the models `lethe bench gradients` runs through both backends (not run by CI; the
outputs are committed under src/main/resources/dev/lethe/bench/torch/).

Each model is saved twice with the same weights: as TorchScript (torch.jit.script, its input
declared in the extra file lethe.json) and exported to ONNX (opset 17, batch axis symbolic,
input "x", output "logits"), so the bench compares DJL's autograd with Lethe's ONNX backward
graph on the same network:

  mlp   784-256-256-10, ReLU (the ONNX bench's MLP)
  cnn   Conv 8 3x3, ReLU, MaxPool 2, Conv 16 3x3, ReLU, MaxPool 2, Linear 784-10 (its CNN)

    /usr/bin/python3 make_bench_models.py
"""
import json
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "main", "resources",
                   "dev", "lethe", "bench", "torch")


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        h = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        h = torch.max_pool2d(torch.relu(self.conv2(h)), 2)
        return self.fc(torch.flatten(h, 1))


torch.manual_seed(2024)
for name, model, sample in (("mlp", Mlp(), [784]), ("cnn", Cnn(), [1, 28, 28])):
    model.eval()
    decl = {"inputs": [{"name": "x", "element_type": "float", "dims": [-1] + sample}]}
    torch.jit.save(torch.jit.script(model), os.path.join(OUT, name + ".pt"),
                   _extra_files={"lethe.json": json.dumps(decl)})
    torch.onnx.export(model, torch.zeros([2] + sample), os.path.join(OUT, name + ".onnx"),
                      input_names=["x"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}})
    print(name, sum(p.numel() for p in model.parameters()), "parameters")
