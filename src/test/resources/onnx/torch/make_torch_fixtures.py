#!/usr/bin/python3
"""Writes the PyTorch-export fixtures of the gradient tests (not run by CI; the outputs are committed).

Run with Debian's interpreter and python3-torch 1.13 (apt-get install python3-torch
python3-torchvision python3-onnx), from this directory:

    /usr/bin/python3 make_torch_fixtures.py

For each model family it builds a tiny random-initialised torch model (reduced widths and inputs,
the same modules as the full-size model), exports it as a user would, with torch.onnx.export at
its default settings (eval mode, constant folding) and opsets 13, 14 and 17, to
<family>_op<opset>.onnx, and writes <family>_op<opset>.ref.pb beside each (the exporter's
initializer names differ between opsets): an ONNX GraphProto whose initializers are

    input:<name>   the inputs of a few samples (batch first)
    labels         int64 [N] class labels
    losses         float32 [N] per-sample softmax cross-entropy of the logits (for
                   gelu_mlp_softmax, whose graph output is the Softmax, of the Softmax's input)
    grad:<init>    float32 [N] + shape: torch autograd's per-sample gradient (in float64) of the
                   loss with respect to the ONNX initializer <init>

Initializers are matched to torch parameters by value (the exporter renames and may transpose
them); every parameter is perturbed at random first so that no two are equal. Conv + BatchNorm
pairs are fused (torch.fx) before export, as the exporter's eval mode would do anyway, so the ONNX
weights are torch parameters. A sample whose float32 and float64 gradients differ by more than
1e-5 (relative, per tensor) sits on a ReLU/MaxPool kink and is re-drawn.

A family whose export fails at an opset is reported and skipped (the .onnx is not written).
"""
import io
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper
from torchvision.models import mobilenetv2, mobilenetv3
from torchvision.models.resnet import BasicBlock

OPSETS = (13, 14, 17)
SAMPLES = 3


class TinyResNet(nn.Module):
    """resnet18's stem and blocks (7x7/2 conv, BN, ReLU, overlapping 3x3/2 MaxPool, BasicBlocks
    with a strided 1x1 downsample, global average pool, fc) at widths 8 and 16."""

    def __init__(self, classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        down = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        self.layer1 = BasicBlock(8, 8)
        self.layer2 = BasicBlock(8, 16, 2, down)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tiny_mobilenet_v2(classes=5):
    m = mobilenetv2.MobileNetV2(num_classes=classes, width_mult=0.25,
                                inverted_residual_setting=[[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]])
    # the 1280-channel head is fixed in torchvision; a narrower one keeps the fixture small
    last_in = m.features[-1][0].in_channels
    m.features[-1] = mobilenetv2.Conv2dNormActivation(last_in, 32, kernel_size=1, activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(32, classes)
    return m


def tiny_mobilenet_v3(classes=5):
    cnf = mobilenetv3.InvertedResidualConfig
    setting = [
        cnf(16, 3, 16, 16, True, "RE", 2, 1, 0.5),
        cnf(16, 3, 32, 24, False, "RE", 2, 1, 0.5),
        cnf(24, 5, 48, 24, True, "HS", 1, 1, 0.5),
    ]
    return mobilenetv3.MobileNetV3(setting, last_channel=32, num_classes=classes)


class GeluMlp(nn.Module):
    """Linear, exact GELU (Erf), LayerNorm, tanh-approximate GELU, Linear."""

    def __init__(self, classes=4, softmax=False):
        super().__init__()
        self.fc1 = nn.Linear(10, 16)
        self.norm = nn.LayerNorm(16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, classes)
        self.softmax = softmax

    def forward(self, x):
        h = F.gelu(self.fc1(x))
        h = F.gelu(self.fc2(self.norm(h)), approximate="tanh")
        z = self.fc3(h)
        return torch.softmax(z, -1) if self.softmax else z


class TransformerClassifier(nn.Module):
    """Token embedding (Gather), learned positions, a 2-layer post-norm encoder (attention with
    the batch on axis 1, GELU feed-forward), mean over the sequence, linear head."""

    def __init__(self, vocab=20, seq=6, d=16, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(seq, 1, d) * 0.1)
        layer = nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, classes)

    def forward(self, tokens):
        h = self.embed(tokens.transpose(0, 1)) + self.pos  # [S, N, E]
        return self.head(self.encoder(h).mean(0))


class RnnClassifier(nn.Module):
    """Embedding, a 1-layer LSTM or GRU (batch_first) and a head on the last hidden state."""

    def __init__(self, cell, vocab=20, d=8, hidden=12, classes=3, bidirectional=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.rnn = cell(d, hidden, batch_first=True, bidirectional=bidirectional)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens):
        out = self.rnn(self.embed(tokens))
        h_n = out[1][0] if isinstance(out[1], tuple) else out[1]
        return self.head(h_n[-1])


class TextCnn(nn.Module):
    """A Conv1d text CNN over a dynamic sequence length: embedding, Conv1d (padded), ReLU, a
    strided, dilated, grouped Conv1d, ReLU, mean over the sequence, linear."""

    def __init__(self, vocab=20, d=8, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.conv = nn.Conv1d(d, 12, 3, padding=1)
        self.conv2 = nn.Conv1d(12, 8, 2, stride=2, dilation=2, padding=1, groups=2)
        self.head = nn.Linear(8, classes)

    def forward(self, tokens):
        h = self.embed(tokens).transpose(1, 2)  # [N, d, S]
        h = F.relu(self.conv2(F.relu(self.conv(h))))
        return self.head(h.mean(2))


class MaskedGru(nn.Module):
    """A GRU text classifier over a dynamic sequence length with a per-token weight input (a
    mask of the same length 'S'): embedding times mask, GRU (batch_first), head on h_n[-1]."""

    def __init__(self, vocab=20, d=8, hidden=10, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.rnn = nn.GRU(d, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens, mask):
        _, h_n = self.rnn(self.embed(tokens) * mask.unsqueeze(-1))
        return self.head(h_n[-1])


class DynamicTransformer(TransformerClassifier):
    """The transformer classifier over a dynamic sequence length (positions sliced to it)."""

    def __init__(self):
        super().__init__(seq=12)

    def forward(self, tokens):
        h = self.embed(tokens.transpose(0, 1))
        h = h + self.pos[: h.shape[0]]
        return self.head(self.encoder(h).mean(0))


def images(n):
    return {"x": torch.randn(n, 3, 32, 32)}


def tokens(seq):
    return lambda n: {"tokens": torch.randint(0, 20, (n, seq))}


def masked_tokens(seq):
    return lambda n: {"tokens": torch.randint(0, 20, (n, seq)), "mask": 0.5 + torch.rand(n, seq)}


# family -> (factory, input maker, classes, dynamic axes beyond the batch)
FAMILIES = {
    "resnet": (TinyResNet, images, 5, {}),
    "mobilenet_v2": (tiny_mobilenet_v2, images, 5, {}),
    "mobilenet_v3": (tiny_mobilenet_v3, images, 5, {}),
    "gelu_mlp": (GeluMlp, lambda n: {"x": torch.randn(n, 10)}, 4, {}),
    "gelu_mlp_softmax": (lambda: GeluMlp(softmax=True), lambda n: {"x": torch.randn(n, 10)}, 4, {}),
    "transformer": (TransformerClassifier, tokens(6), 3, {}),
    "lstm": (lambda: RnnClassifier(nn.LSTM), tokens(5), 3, {}),
    "gru": (lambda: RnnClassifier(nn.GRU), tokens(5), 3, {}),
    "text_cnn": (TextCnn, tokens(7), 3, {"tokens": {1: "S"}}),
    "gru_dynamic": (MaskedGru, masked_tokens(5), 3, {"tokens": {1: "S"}, "mask": {1: "S"}}),
    "transformer_dynamic": (DynamicTransformer, tokens(6), 3, {"tokens": {1: "S"}}),
}

# dynamic-length families: a second reference (<family>_op<opset>.ref2.pb) at another length
SECOND = {
    "text_cnn": tokens(10),
    "gru_dynamic": masked_tokens(8),
    "transformer_dynamic": tokens(9),
}


def perturb(model, gen):
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(1 + 0.2 * torch.randn(mod.weight.shape, generator=gen))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=gen))
                mod.running_mean.copy_(0.1 * torch.randn(mod.running_mean.shape, generator=gen))
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=gen))
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))


def fuse(model):
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    try:
        import torch.fx.experimental.optimization as opt
        return opt.fuse(model)
    except Exception as e:  # models fx cannot trace keep their BatchNorms
        print("  (not fused:", type(e).__name__, str(e)[:80], ")")
        return model


def per_sample(model, inputs, labels, dtype):
    """Per-sample losses and gradients; the loss is always taken on the logits (a model ending in
    Softmax is differentiated before it, as Lethe does with an empty logits_output)."""
    m = model.to(dtype)
    probabilities = getattr(m, "softmax", False)
    m.softmax = False
    names = [n for n, _ in m.named_parameters()]
    grads = {n: [] for n in names}
    losses = []
    for i in range(labels.shape[0]):
        feed = {k: (v[i:i + 1].to(dtype) if v.is_floating_point() else v[i:i + 1]) for k, v in inputs.items()}
        m.zero_grad()
        loss = F.cross_entropy(m(**feed).reshape(1, -1), labels[i:i + 1])
        loss.backward()
        losses.append(loss.item())
        for n, p in m.named_parameters():
            grads[n].append(p.grad.detach().clone().double() if p.grad is not None else torch.zeros_like(p).double())
    m.softmax = probabilities
    return np.array(losses), {n: torch.stack(g).numpy() for n, g in grads.items()}


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def draw(model, make_inputs, classes, gen_seed):
    """Samples whose float32 and float64 gradients agree (none on a kink)."""
    torch.manual_seed(gen_seed)
    kept = {}
    labels = []
    tries = 0
    while len(labels) < SAMPLES:
        tries += 1
        if tries > 200:
            raise RuntimeError("could not draw samples off the kinks")
        x = make_inputs(1)
        y = torch.randint(0, classes, (1,))
        _, g32 = per_sample(model, x, y, torch.float32)
        _, g64 = per_sample(model, x, y, torch.float64)
        model.float()
        if any(rel(g32[n], g64[n]) > 1e-5 for n in g64 if np.linalg.norm(g64[n]) > 0):
            continue
        for k, v in x.items():
            kept.setdefault(k, []).append(v)
        labels.append(y)
    return {k: torch.cat(v) for k, v in kept.items()}, torch.cat(labels)


def export(model, inputs, opset, dynamic):
    names = list(inputs.keys())
    axes = {n: {0: "N", **dynamic.get(n, {})} for n in names}
    axes["logits"] = {0: "N"}
    buf = io.BytesIO()
    torch.onnx.export(model, tuple(inputs[n] for n in names), buf, opset_version=opset, input_names=names,
                      output_names=["logits"], dynamic_axes=axes)
    return onnx.load_from_string(buf.getvalue())


# ONNX gate order as torch blocks: LSTM iofc from torch's ifgo, GRU zrh from torch's rzn
GATES = {4: [0, 3, 1, 2], 3: [1, 0, 2]}


def rnn_layout(params):
    """The ONNX LSTM/GRU initializers torch writes (W, R: [1, G*H, in]; B: [1, 2*G*H]), as
    functions of the torch tensors (weights or their gradients), for every rnn module found."""
    out = {}
    for n in params:
        if not n.endswith("weight_ih_l0"):
            continue
        prefix = n[: -len("weight_ih_l0")]
        w = params[n]
        h = params[prefix + "weight_hh_l0"].shape[1]
        order = GATES[w.shape[-2] // h]

        def reorder(a, axis, order=order, h=h):
            blocks = np.split(a, len(order), axis=axis)
            return np.concatenate([blocks[k] for k in order], axis=axis)

        def weight(get, name, reorder=reorder):
            return np.expand_dims(reorder(get(prefix + name), -2), -3)

        def bias(get, reorder=reorder):
            return np.expand_dims(np.concatenate([reorder(get(prefix + "bias_ih_l0"), -1),
                                                  reorder(get(prefix + "bias_hh_l0"), -1)], axis=-1), -2)

        out[prefix + "W"] = (lambda get, weight=weight: weight(get, "weight_ih_l0"))
        out[prefix + "R"] = (lambda get, weight=weight: weight(get, "weight_hh_l0"))
        out[prefix + "B"] = bias
    return out


def match(onnx_model, model):
    """ONNX float initializer name -> (torch parameter name, transposed?), or, for the weights of
    an LSTM/GRU, -> (a function of a name -> tensor lookup giving the ONNX layout, None)."""
    params = {n: p.detach().float().numpy() for n, p in model.named_parameters()}
    rnn = rnn_layout(params)
    out = {}
    for t in onnx_model.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype != np.float32 or a.ndim == 0:
            continue
        for n, p in params.items():
            if p.size == a.size and np.array_equal(p.reshape(-1), a.reshape(-1)):
                out[t.name] = (n, False)
            elif p.ndim == 2 and a.ndim == 2 and p.T.shape == a.shape and np.array_equal(p.T, a):
                out[t.name] = (n, True)
        for fn in rnn.values():
            v = fn(lambda k: params[k])
            if v.shape == a.shape and np.array_equal(v, a):
                out[t.name] = (fn, None)
    return out


def write_reference(path, name, names, inputs, labels, losses, grads):
    ref = onnx.GraphProto(name=name)
    for k, v in inputs.items():
        ref.initializer.append(numpy_helper.from_array(v.numpy(), "input:" + k))
    ref.initializer.append(numpy_helper.from_array(labels.numpy().astype(np.int64), "labels"))
    ref.initializer.append(numpy_helper.from_array(losses.astype(np.float32), "losses"))
    for init, (pname, transposed) in sorted(names.items(), key=lambda kv: kv[0]):
        if transposed is None:  # an LSTM/GRU weight: the same layout of the per-sample gradients
            g = pname(lambda k: grads[k])
        else:
            g = grads[pname]
        if transposed:
            g = np.transpose(g, (0, 2, 1))
        ref.initializer.append(numpy_helper.from_array(g.astype(np.float32), "grad:" + init))
    with open(path, "wb") as f:
        f.write(ref.SerializeToString())


def main(only):
    summary = []
    for i, (family, (factory, make_inputs, classes, dynamic)) in enumerate(FAMILIES.items()):
        if only and family not in only:
            continue
        print(family)
        gen = torch.Generator().manual_seed(100 + i)
        torch.manual_seed(100 + i)
        model = factory().eval()
        perturb(model, gen)
        model = fuse(model).eval()
        refs = {"ref": draw(model, make_inputs, classes, 200 + i)}
        if family in SECOND:
            refs["ref2"] = draw(model, SECOND[family], classes, 300 + i)
        computed = {}
        for key, (inputs, labels) in refs.items():
            computed[key] = (inputs, labels) + per_sample(model, inputs, labels, torch.float64)
            model.float()
        for opset in OPSETS:
            try:
                om = export(model, make_inputs(2), opset, dynamic)
            except Exception as e:
                print("  opset", opset, "export failed:", type(e).__name__, str(e)[:120])
                summary.append((family, opset, "export failed"))
                continue
            onnx.save(om, f"{family}_op{opset}.onnx")
            names = match(om, model)
            used = {v[0] for v in names.values() if v[1] is not None}
            used |= {n for n in dict(model.named_parameters()) if "_l0" in n and any(v[1] is None for v in names.values())}
            unmatched = [n for n in dict(model.named_parameters()) if n not in used]
            if unmatched:
                print("  opset", opset, "torch parameters without an initializer:", unmatched)
            summary.append((family, opset, f"{len(names)} initializers matched"))
            # the exporter's initializer names differ between opsets: one reference per export
            for key, (inputs, labels, losses, grads) in computed.items():
                write_reference(f"{family}_op{opset}.{key}.pb", f"{family}_op{opset}_{key}", names,
                                inputs, labels, losses, grads)
    for s in summary:
        print(*s)


if __name__ == "__main__":
    main(set(sys.argv[1:]))
