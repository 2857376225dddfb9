package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import dev.lethe.core.Messages;

/**
 * The safety checks an uploaded ONNX model passes before anything parses it further or hands it
 * to ONNX Runtime: one walk over every graph (the main graph, node-attribute subgraphs of If,
 * Loop and Scan, functions, training graphs).
 *
 * <ul>
 *   <li>No tensor anywhere — initializer, sparse initializer, Constant or other attribute tensor,
 *       at any subgraph depth — may keep its data outside the file ({@code data_location =
 *       EXTERNAL} or any {@code external_data} entry): ONNX Runtime would read that data from a
 *       path relative to the server's working directory, so an upload could read the server's
 *       files back through Evaluate.
 *   <li>Size: at most {@link GraphLimits#maxNodes()} nodes in all, subgraphs nested at most
 *       {@link GraphLimits#maxDepth()} deep, and no tensor declaring more than
 *       {@link GraphLimits#maxElements()} elements (the dims' product computed without overflow).
 * </ul>
 *
 * <p>Thread-safe: each {@link #check} walks with its own instance.
 */
public final class ModelAudit {
  private final GraphLimits limits;
  private long nodes;

  private ModelAudit(GraphLimits limits) {
    this.limits = limits;
  }

  /**
   * @throws LetheException INVALID_ARGUMENT naming the tensor (field {@code chunk}) for external
   *     data or an impossible element count; RESOURCE_EXHAUSTED naming the limit for a graph
   *     beyond {@code limits}
   */
  public static void check(OnnxMl.ModelProto model, GraphLimits limits) {
    ModelAudit audit = new ModelAudit(limits);
    audit.graph(model.getGraph(), 0);
    for (OnnxMl.FunctionProto f : model.getFunctionsList()) {
      audit.nodes(f.getNodeList(), 1, "function '" + Messages.quote(f.getName()) + "'");
    }
    for (OnnxMl.TrainingInfoProto t : model.getTrainingInfoList()) {
      audit.graph(t.getInitialization(), 1);
      audit.graph(t.getAlgorithm(), 1);
    }
  }

  private void graph(OnnxMl.GraphProto g, int depth) {
    if (depth > limits.maxDepth()) {
      throw LetheException.tooLarge("chunk", "subgraphs nest deeper than " + limits.maxDepth()
          + " levels (--max-graph-depth)");
    }
    for (OnnxMl.TensorProto t : g.getInitializerList()) {
      tensor(t, "initializer");
    }
    for (OnnxMl.ValueInfoProto in : g.getInputList()) {
      long count = 1;
      for (OnnxMl.TensorShapeProto.Dimension d : in.getType().getTensorType().getShape().getDimList()) {
        if (d.hasDimValue() && d.getDimValue() > 0) {
          count = elements(count, d.getDimValue(), "graph input '" + Messages.quote(in.getName()) + "'");
        }
      }
    }
    for (OnnxMl.SparseTensorProto s : g.getSparseInitializerList()) {
      tensor(s.getValues(), "sparse initializer");
      tensor(s.getIndices(), "sparse initializer");
    }
    nodes(g.getNodeList(), depth, "graph '" + Messages.quote(g.getName()) + "'");
  }

  private void nodes(java.util.List<OnnxMl.NodeProto> list, int depth, String where) {
    nodes += list.size();
    if (nodes > limits.maxNodes()) {
      throw LetheException.tooLarge("chunk", "the model has more than " + limits.maxNodes()
          + " nodes (--max-graph-nodes)");
    }
    for (OnnxMl.NodeProto node : list) {
      for (OnnxMl.AttributeProto a : node.getAttributeList()) {
        String owner = "attribute '" + Messages.quote(a.getName()) + "' of node '"
            + Messages.quote(node.getName()) + "' (" + Messages.quote(node.getOpType()) + ") in "
            + where;
        if (a.hasT()) {
          tensor(a.getT(), owner);
        }
        for (OnnxMl.TensorProto t : a.getTensorsList()) {
          tensor(t, owner);
        }
        if (a.hasSparseTensor()) {
          tensor(a.getSparseTensor().getValues(), owner);
          tensor(a.getSparseTensor().getIndices(), owner);
        }
        for (OnnxMl.SparseTensorProto s : a.getSparseTensorsList()) {
          tensor(s.getValues(), owner);
          tensor(s.getIndices(), owner);
        }
        if (a.hasG()) {
          graph(a.getG(), depth + 1);
        }
        for (OnnxMl.GraphProto sub : a.getGraphsList()) {
          graph(sub, depth + 1);
        }
      }
    }
  }

  private void tensor(OnnxMl.TensorProto t, String owner) {
    String name = "tensor '" + Messages.quote(t.getName()) + "' (" + owner + ")";
    if (t.getDataLocation() == OnnxMl.TensorProto.DataLocation.EXTERNAL
        || t.getExternalDataCount() > 0) {
      throw LetheException.invalid("chunk", name + " keeps its data outside the file "
          + "(data_location EXTERNAL); Lethe accepts only self-contained models: store every "
          + "tensor inline");
    }
    long count = 1;
    for (long d : t.getDimsList()) {
      if (d < 0) {
        throw LetheException.invalid("chunk", name + " has a negative dimension " + d);
      }
      count = elements(count, d, name);
    }
  }

  /** {@code count * d}, refused when it overflows or exceeds the element limit. */
  private long elements(long count, long d, String name) {
    long product;
    try {
      product = Math.multiplyExact(count, d);
    } catch (ArithmeticException overflow) {
      throw LetheException.invalid("chunk", name + " declares dims whose element count "
          + "overflows a 64-bit integer");
    }
    if (product > limits.maxElements()) {
      throw LetheException.invalid("chunk", name + " declares more than "
          + limits.maxElements() + " elements (--max-tensor-elements)");
    }
    return product;
  }
}
