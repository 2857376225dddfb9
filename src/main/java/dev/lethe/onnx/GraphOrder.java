package dev.lethe.onnx;

import ai.onnx.proto.OnnxMl;
import dev.lethe.core.LetheException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The nodes of a graph in topological order (an iterative depth-first search); stateless. */
final class GraphOrder {
  private static final String MODEL = ForwardAnalysis.MODEL;

  private GraphOrder() {}

  /** @throws LetheException INVALID_ARGUMENT (field model) naming a node on a cycle */
  static List<OnnxMl.NodeProto> topological(OnnxMl.GraphProto graph) {
    Map<String, Integer> producer = new HashMap<>();
    List<OnnxMl.NodeProto> all = graph.getNodeList();
    for (int i = 0; i < all.size(); i++) {
      for (String o : all.get(i).getOutputList()) {
        producer.put(o, i);
      }
    }
    int[] state = new int[all.size()];
    List<OnnxMl.NodeProto> order = new ArrayList<>();
    for (int i = 0; i < all.size(); i++) {
      Deque<int[]> stack = new ArrayDeque<>();
      stack.push(new int[] {i, 0});
      while (!stack.isEmpty()) {
        int[] top = stack.peek();
        int n = top[0];
        if (top[1] == 0) {
          if (state[n] == 2) {
            stack.pop();
            continue;
          }
          state[n] = 1;
        }
        OnnxMl.NodeProto node = all.get(n);
        if (top[1] < node.getInputCount()) {
          Integer p = producer.get(node.getInput(top[1]++));
          if (p != null && state[p] == 0) {
            stack.push(new int[] {p, 0});
          } else if (p != null && state[p] == 1) {
            throw LetheException.invalid(MODEL, "the graph has a cycle through node '" + node.getName() + "'");
          }
        } else {
          stack.pop();
          if (state[n] != 2) {
            state[n] = 2;
            order.add(node);
          }
        }
      }
    }
    return order;
  }
}
