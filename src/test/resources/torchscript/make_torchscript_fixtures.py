#!/usr/bin/python3
"""Writes the TorchScript fixtures (not run by CI; the outputs are committed, a few hundred KB).

Run with Debian's interpreter and python3-torch 1.13 (apt-get install python3-torch
python3-torchvision python3-onnx) -- NOT a python3 that comes first on PATH -- from this
directory:

    /usr/bin/python3 make_torchscript_fixtures.py [family ...]

For each family (mlp, cnn_bn, gru, transformer) it builds a tiny random-initialised model in eval
mode and writes:

  <family>.pt          the model saved by torch.jit.save (mlp and cnn_bn by torch.jit.script,
                       gru and transformer by torch.jit.trace on a sample batch)
  <family>.ref.pb      an ONNX GraphProto used only as a container of named tensors (the format
                       of ../onnx/torch/*.ref.pb), initializers in this order:
                         param:<name>   float32, every state_dict entry that is a parameter
                         buffer:<name>  its dtype, every state_dict entry that is a buffer
                                        (BatchNorm's running_mean, running_var, and the int64
                                        scalar num_batches_tracked)
                         input:<name>   the inputs of N = 4 samples, batch first (float32, or
                                        int64 token ids for gru and transformer)
                         labels         int64 [N]
                         logits         float64 [N, C], the model's output in float64
                         losses         float64 [N], per-sample softmax cross-entropy
                         grad:<name>    float64 [N] + shape, torch autograd's per-sample
                                        gradient of the loss w.r.t. parameter <name>
                       <name> is the state_dict key (dotted: encoder.layers.0.self_attn.in_proj_weight).
                       Entries are in state_dict order; `param:`/`buffer:` says which is which
                       (module.named_parameters() vs module.named_buffers()).
  <family>.onnx        the same weights exported by torch.onnx.export at opset 17 (fixed sequence
                       lengths; only the batch axis is symbolic), with
  <family>.onnx.ref.pb the reference of that export in exactly the format of
                       ../onnx/torch/*.ref.pb (read by dev.lethe.onnx.TorchFixtures): input:*,
                       labels, losses (float32) and grad:<ONNX initializer> (float32; the
                       exporter's names, layouts matched to the torch parameters by value as
                       make_torch_fixtures.match does: transposed Gemm weights, GRU gate order).
                       The CNN is exported with training=PRESERVE so that its BatchNormalization
                       nodes are kept (eval mode, not folded into the convolutions) and its
                       ONNX parameters are the torch parameters.

The gradients have NO L2 term (mu = 0). Lethe's convention (onnx/GradientGraph) for a spec with
l2 = mu is per-sample loss + mu/2 * sum over the erasable parameters of |theta|^2, so its gradient
is the reference gradient + mu * theta (theta = the `param:` values); tests with mu > 0 add it.

Samples are drawn so that the float32 and float64 gradients agree to 1e-5 relative per tensor
(no sample on a ReLU/MaxPool kink). Every parameter is perturbed (and BatchNorm's statistics set)
so that no two parameters are equal and the running statistics are not the defaults.

Also written, for the archive's refusal and hardening tests:
  state_dict.pth       torch.save(mlp.state_dict()): a zip pickle that is not TorchScript
  extra.pt             a scripted MLP saved with the extra file lethe.json
  tied.pt              a scripted model whose head.weight IS embed.weight (one storage, one
                       entry in named_parameters, two state_dict keys), with tied.ref.pb
                       (param:/buffer: only, state_dict order, both keys)
  shared_view.pt       a scripted model with two parameters that are views into one storage
                       (a.weight = s[0:6], b.weight = s[6:12] of one float32 storage: disjoint)
  overlap.pt           the same with overlapping views (a.weight = s[0:6], b.weight = s[3:9])
  nested.pt            a scripted model with submodules in a Sequential, a ModuleDict and a custom
                       module, a frozen parameter, a non-persistent buffer and a plain tensor
                       attribute, with nested.ref.pb (param:/buffer: of the loaded module's
                       state_dict, whose named_parameters/named_buffers say which is which)
  transposed.pt        a scripted model whose fc.weight is a non-contiguous view (a transpose)
"""
import copy
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx", "torch"))
from make_torch_fixtures import match  # noqa: E402  (the ONNX initializer <-> parameter matching)

SAMPLES = 4
OPSET = 17


class Mlp(nn.Module):
    """Linear, tanh, Linear, GELU, Linear."""

    def __init__(self, features=6, classes=3):
        super().__init__()
        self.fc1 = nn.Linear(features, 12)
        self.fc2 = nn.Linear(12, 8)
        self.fc3 = nn.Linear(8, classes)

    def forward(self, x):
        return self.fc3(F.gelu(self.fc2(torch.tanh(self.fc1(x)))))


class CnnBn(nn.Module):
    """Conv, BatchNorm, ReLU, MaxPool, Conv, BatchNorm, ReLU, global average pool, Linear."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 6, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, classes)

    def forward(self, x):
        h = self.pool(F.relu(self.bn1(self.conv1(x))))
        h = F.relu(self.bn2(self.conv2(h)))
        return self.fc(h.mean(dim=[2, 3]))


class GruClassifier(nn.Module):
    """Embedding, a 1-layer GRU (batch_first), a head on the last hidden state."""

    def __init__(self, vocab=20, d=8, hidden=10, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        _, h_n = self.rnn(self.embed(tokens))
        return self.head(h_n[-1])


class TransformerClassifier(nn.Module):
    """Token embedding, learned positions (a root parameter `pos`), a 1-layer post-norm encoder
    (2 heads, GELU feed-forward, batch on axis 1), mean over the sequence, linear head."""

    def __init__(self, vocab=20, seq=6, d=16, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, 1, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        h = self.embed(tokens.transpose(0, 1)) + self.pos  # [S, N, E]
        return self.head(self.encoder(h).mean(0))


def tokens(seq):
    return lambda n: {"tokens": torch.randint(0, 20, (n, seq))}


# family -> (factory, input maker, classes, "script" or "trace")
FAMILIES = {
    "mlp": (Mlp, lambda n: {"x": torch.randn(n, 6)}, 3, "script"),
    "cnn_bn": (CnnBn, lambda n: {"x": torch.randn(n, 1, 8, 8)}, 3, "script"),
    "gru": (GruClassifier, tokens(5), 3, "trace"),
    "transformer": (TransformerClassifier, tokens(6), 3, "trace"),
}


def perturb(model, gen):
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(1 + 0.2 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=gen))
                mod.num_batches_tracked.fill_(7)
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))


def per_sample(model, inputs, labels, dtype):
    """Per-sample logits, losses and gradients (keyed by parameter name) in dtype."""
    m = copy.deepcopy(model).to(dtype).eval()
    names = [n for n, _ in m.named_parameters()]
    grads = {n: [] for n in names}
    logits, losses = [], []
    for i in range(labels.shape[0]):
        feed = {k: (v[i:i + 1].to(dtype) if v.is_floating_point() else v[i:i + 1]) for k, v in inputs.items()}
        m.zero_grad()
        z = m(**feed).reshape(1, -1)
        loss = F.cross_entropy(z, labels[i:i + 1])
        loss.backward()
        logits.append(z.detach().double()[0].numpy())
        losses.append(loss.item())
        for n, p in m.named_parameters():
            g = p.grad if p.grad is not None else torch.zeros_like(p)
            grads[n].append(g.detach().double().clone())
    return np.array(logits), np.array(losses), {n: torch.stack(g).numpy() for n, g in grads.items()}


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def draw(model, make_inputs, classes, seed):
    torch.manual_seed(seed)
    kept, labels = {}, []
    tries = 0
    while len(labels) < SAMPLES:
        tries += 1
        if tries > 200:
            raise RuntimeError("could not draw samples off the kinks")
        x = make_inputs(1)
        y = torch.randint(0, classes, (1,))
        _, _, g32 = per_sample(model, x, y, torch.float32)
        _, _, g64 = per_sample(model, x, y, torch.float64)
        if any(rel(g32[n], g64[n]) > 1e-5 for n in g64 if np.linalg.norm(g64[n]) > 0):
            continue
        for k, v in x.items():
            kept.setdefault(k, []).append(v)
        labels.append(y)
    return {k: torch.cat(v) for k, v in kept.items()}, torch.cat(labels)


def tensor(name, a):
    return numpy_helper.from_array(np.array(a, order="C"), name)  # keeps 0-d scalars 0-d


def state_entries(model):
    """(prefix, name, value) for every state_dict entry, in state_dict order."""
    params = {(m + "." if m else "") + n for m, mod in model.named_modules(remove_duplicate=False)
              for n, v in mod._parameters.items() if v is not None}
    out = []
    for n, v in model.state_dict(keep_vars=False).items():
        out.append(("param:" if n in params else "buffer:", n, v.detach().cpu().numpy()))
    return out


def write_state(ref, model):
    for prefix, n, v in state_entries(model):
        ref.initializer.append(tensor(prefix + n, v))


def save_script(model, how, example, path):
    with torch.no_grad():
        sm = torch.jit.script(model) if how == "script" else torch.jit.trace(model, tuple(example.values()))
    torch.jit.save(sm, path)
    return sm


def export_onnx(model, family, example, inputs, labels, losses, grads):
    names = list(example.keys())
    axes = {n: {0: "N"} for n in names}
    axes["logits"] = {0: "N"}
    training = torch.onnx.TrainingMode.PRESERVE if family == "cnn_bn" else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, tuple(example[n] for n in names), f"{family}.onnx", opset_version=OPSET,
                      input_names=names, output_names=["logits"], dynamic_axes=axes, training=training)
    om = onnx.load(f"{family}.onnx")
    matched = match(om, model)
    found = {v[0] for v in matched.values() if v[1] is not None}
    if any(v[1] is None for v in matched.values()):
        found |= {n for n, _ in model.named_parameters() if "_l0" in n}
    missing = [n for n, _ in model.named_parameters() if n not in found]
    print(f"  onnx: {len(matched)} initializers matched" + (f", parameters without one: {missing}" if missing else ""))
    ref = onnx.GraphProto(name=f"{family}_onnx_reference")
    for k, v in inputs.items():
        ref.initializer.append(tensor("input:" + k, v.numpy()))
    ref.initializer.append(tensor("labels", labels.numpy().astype(np.int64)))
    ref.initializer.append(tensor("losses", losses.astype(np.float32)))
    for init, (pname, transposed) in sorted(matched.items(), key=lambda kv: kv[0]):
        g = pname(lambda k: grads[k]) if transposed is None else grads[pname]
        if transposed:
            g = np.transpose(g, (0, 2, 1))
        ref.initializer.append(tensor("grad:" + init, g.astype(np.float32)))
    with open(f"{family}.onnx.ref.pb", "wb") as f:
        f.write(ref.SerializeToString())


def family(i, name):
    factory, make_inputs, classes, how = FAMILIES[name]
    print(name)
    gen = torch.Generator().manual_seed(300 + i)
    torch.manual_seed(300 + i)
    model = factory().eval()
    perturb(model, gen)
    inputs, labels = draw(model, make_inputs, classes, 400 + i)
    logits, losses, grads = per_sample(model, inputs, labels, torch.float64)
    example = make_inputs(2)
    sm = save_script(model, how, example, f"{name}.pt")
    # the saved module computes what the eager one does (float32)
    with torch.no_grad():
        z = sm(*[inputs[k] for k in inputs]).double().numpy()
    assert rel(z, logits) < 1e-5, f"{name}: the TorchScript module's logits differ from eager"
    ref = onnx.GraphProto(name=f"{name}_torchscript_reference")
    write_state(ref, model)
    for k, v in inputs.items():
        ref.initializer.append(tensor("input:" + k, v.numpy()))
    ref.initializer.append(tensor("labels", labels.numpy().astype(np.int64)))
    ref.initializer.append(tensor("logits", logits.astype(np.float64)))
    ref.initializer.append(tensor("losses", losses.astype(np.float64)))
    for n, _ in model.named_parameters():
        ref.initializer.append(tensor("grad:" + n, grads[n].astype(np.float64)))
    with open(f"{name}.ref.pb", "wb") as f:
        f.write(ref.SerializeToString())
    export_onnx(model, name, example, inputs, labels, losses, grads)
    return model


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(7, 4)
        self.head = nn.Linear(4, 7, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(self.embed(tokens).mean(1))


class SharedView(nn.Module):
    def __init__(self):
        super().__init__()
        s = torch.randn(12)
        self.a = nn.Linear(3, 2, bias=False)
        self.b = nn.Linear(3, 2, bias=False)
        self.a.weight = nn.Parameter(s[0:6].view(2, 3))
        self.b.weight = nn.Parameter(s[6:12].view(2, 3))

    def forward(self, x):
        return self.a(x) + self.b(x)


class Overlap(nn.Module):
    def __init__(self):
        super().__init__()
        s = torch.randn(9)
        self.a = nn.Linear(3, 2, bias=False)
        self.b = nn.Linear(3, 2, bias=False)
        self.a.weight = nn.Parameter(s[0:6].view(2, 3))
        self.b.weight = nn.Parameter(s[3:9].view(2, 3))

    def forward(self, x):
        return self.a(x) + self.b(x)


class Nested(nn.Module):
    """Submodules in a Sequential, a ModuleDict and a nested custom module, a frozen parameter, a
    non-persistent buffer, and a tensor attribute that is neither a parameter nor a buffer."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 5))
        self.heads = nn.ModuleDict({"b": nn.Linear(5, 2), "a": nn.Linear(5, 2, bias=False)})
        self.inner = Mlp(5, 2)
        self.frozen = nn.Parameter(torch.randn(2), requires_grad=False)
        self.register_buffer("scale", torch.tensor([2.0, 3.0]))
        self.register_buffer("cache", torch.zeros(3), persistent=False)
        self.offset = torch.ones(2)

    def forward(self, x):
        h = self.body(x)
        return (self.heads["a"](h) + self.heads["b"](h) + self.inner(h)) * self.scale + self.frozen + self.offset


class Transposed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.fc.weight = nn.Parameter(torch.randn(3, 4).t())

    def forward(self, x):
        return self.fc(x)


def odd_archives():
    torch.manual_seed(7)
    mlp = Mlp().eval()
    torch.save(mlp.state_dict(), "state_dict.pth")
    torch.jit.save(torch.jit.script(mlp), "extra.pt", _extra_files={"lethe.json": '{"inputs": [{"name": "x", "dims": [-1, 6]}]}'})
    tied = Tied().eval()
    torch.jit.save(torch.jit.script(tied), "tied.pt")
    ref = onnx.GraphProto(name="tied_reference")
    write_state(ref, tied)
    with open("tied.ref.pb", "wb") as f:
        f.write(ref.SerializeToString())
    torch.jit.save(torch.jit.script(SharedView().eval()), "shared_view.pt")
    torch.jit.save(torch.jit.script(Overlap().eval()), "overlap.pt")
    nested = torch.jit.script(Nested().eval())
    torch.jit.save(nested, "nested.pt")
    ref = onnx.GraphProto(name="nested_reference")
    write_state(ref, torch.jit.load("nested.pt"))  # the state dict a user of the saved module sees
    with open("nested.ref.pb", "wb") as f:
        f.write(ref.SerializeToString())
    torch.jit.save(torch.jit.script(Transposed().eval()), "transposed.pt")
    print("odd archives: state_dict.pth extra.pt tied.pt shared_view.pt overlap.pt nested.pt transposed.pt")


def main(only):
    for i, name in enumerate(FAMILIES):
        if not only or name in only:
            family(i, name)
    if not only or "odd" in only:
        odd_archives()


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        # TorchScript writes a class's constants in set order: a fixed hash seed makes the files
        # the same on every run
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    main(set(sys.argv[1:]))
