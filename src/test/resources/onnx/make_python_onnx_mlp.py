#!/usr/bin/python3
"""Writes python_onnx_mlp.onnx, a test fixture serialised by Debian's python3-onnx (not by Lethe).

Run with Debian's interpreter: /usr/bin/python3 make_python_onnx_mlp.py
Model: x[batch, 5] -> Gemm(W1, b1, transB=1) -> LeakyRelu(0.1) -> MatMul(W2) -> Add(b2) = logits
       -> Sigmoid -> probs (the only graph output; the loss starts at the internal 'logits').
Constants: the LeakyRelu input is scaled by a Constant node, weights are initializers.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
w1 = (0.5 * rng.standard_normal((4, 5))).astype(np.float32)
b1 = (0.1 * rng.standard_normal(4)).astype(np.float32)
w2 = (0.5 * rng.standard_normal((4, 3))).astype(np.float32)
b2 = (0.1 * rng.standard_normal(3)).astype(np.float32)

nodes = [
    helper.make_node("Gemm", ["x", "W1", "b1"], ["h"], name="dense1", transB=1),
    helper.make_node("Constant", [], ["scale"], name="scale_const",
                     value=helper.make_tensor("scale_value", TensorProto.FLOAT, [], [1.5])),
    helper.make_node("Mul", ["h", "scale"], ["hs"], name="scale_mul"),
    helper.make_node("LeakyRelu", ["hs"], ["a"], name="act", alpha=0.1),
    helper.make_node("MatMul", ["a", "W2"], ["m"], name="dense2"),
    helper.make_node("Add", ["m", "b2"], ["logits"], name="bias2"),
    helper.make_node("Sigmoid", ["logits"], ["probs"], name="head"),
]
graph = helper.make_graph(
    nodes, "python_onnx_mlp",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 5])],
    [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 3])],
    initializer=[numpy_helper.from_array(w1, "W1"), numpy_helper.from_array(b1, "b1"),
                 numpy_helper.from_array(w2, "W2"), numpy_helper.from_array(b2, "b2")])
model = helper.make_model(graph, producer_name="python3-onnx " + onnx.__version__,
                          opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 7
onnx.checker.check_model(model)
onnx.save(model, "python_onnx_mlp.onnx")
print("wrote python_onnx_mlp.onnx with onnx", onnx.__version__)
