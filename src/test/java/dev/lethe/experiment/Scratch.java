package dev.lethe.experiment;

import java.nio.file.Path;

public class Scratch {
  public static void main(String[] args) throws Exception {
    EvaluationPlan plan = args[0].equals("full") ? EvaluationPlan.full() : EvaluationPlan.quick();
    try (Sidecar s = Sidecar.embedded(4L << 30)) {
      long t0 = System.nanoTime();
      var r = ErasureEvaluation.run(plan, s, Path.of("../shared/data/fashion-mnist"),
          line -> System.out.printf("[%6.1fs] %s%n", (System.nanoTime() - t0) / 1e9, line));
      for (var f : java.util.List.of(r.convex(), r.mlp())) {
        for (var set : f.settings()) {
          var rep = f.trials().stream().filter(t -> t.setting().equals(set) && !t.removal().calibration() && !t.removal().group().equals("1 sample")).toList();
          System.out.printf("%s %s: mean γ %.4f, mean dist %.4f, ε %.3g, acc gaps test %.4f%n", f.key(), set.label(),
              rep.stream().mapToDouble(TrialResult::gamma).average().orElse(0),
              rep.stream().mapToDouble(TrialResult::distance).average().orElse(0), rep.get(0).epsilon(),
              rep.stream().mapToDouble(t -> t.accuracy()[2] - t.accuracyRetrained()[2]).average().orElse(0));
        }
      }
      System.out.printf("total %.1f s%n", r.seconds());
    }
  }
}
