package dev.lethe.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.lethe.client.LetheClient;
import dev.lethe.core.LossFunction;
import dev.lethe.core.Samples;
import dev.lethe.eval.Evaluation;
import dev.lethe.fisher.BlockLayout;
import dev.lethe.fisher.CurvatureKind;
import dev.lethe.fisher.ModelView;
import dev.lethe.server.LetheServer;
import dev.lethe.testing.Fixtures;
import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * One partition's sums without Spark: the samples are pulled one batch ahead at most (never the
 * partition's rows), and the packed Grams equal Σ g gᵀ computed directly in double from the
 * model's per-sample gradients of all samples at once (1e-9 relative). The executor's model is
 * the real one, fetched from a loopback sidecar.
 */
class PartitionSumsTest {
  private static final int N = 103;
  private static final int BATCH = 16;
  @TempDir Path dir;

  @Test
  void aPartitionHoldsOneBatchAndSumsTheGram() throws Exception {
    Samples train = Fixtures.batch(5, N);
    String csv = SparkFixture.csv(train, dir);
    LetheServer server = SparkFixture.sidecar(dir.resolve("store"));
    try (LetheClient client = new LetheClient("127.0.0.1:" + server.port())) {
      client.putModel(Fixtures.spec("m").withTrainSize(N), new ByteArrayInputStream(Fixtures.mlp(3).onnx()));
      Sidecar sidecar = new Sidecar("127.0.0.1:" + server.port(), null, null, null);
      ExecutorModel model = ExecutorModel.of(sidecar, "m", 1);
      BlockLayout layout = BlockLayout.forParameters(model.parameterShapes(), 10);
      long[] seen = {0};
      ModelView counting = new Counting(model, seen);
      Iterator<Integer> rows = new Iterator<>() {
        private int next;

        @Override
        public boolean hasNext() {
          return next < N;
        }

        @Override
        public Integer next() {
          assertTrue(next - seen[0] <= BATCH, "pulled " + next + " samples, only " + seen[0]
              + " turned into rows");
          return next++;
        }
      };
      FileBatches maker = new FileBatches(List.of(csv), "x", new long[] {Fixtures.IN},
          LossFunction.SOFTMAX_CROSS_ENTROPY, Fixtures.CLASSES, 1.0, 0.0);
      PartitionSums<Integer> task = new PartitionSums<>(sidecar, "m", 1, layout.encode(), 0,
          layout.blockCount(), CurvatureKind.EMPIRICAL, 0, 0, true, BATCH, maker);
      Iterator<Tuple2<Integer, double[]>> out = task.sum(counting, rows, 0);

      float[] g = model.gradients(model.check(maker.batch(
          IntStream.range(0, N).boxed().toList()), true));
      int p = layout.parameterCount();
      int blocks = 0;
      while (out.hasNext()) {
        Tuple2<Integer, double[]> t = out.next();
        if (t._1() == PartitionSums.STATS) {
          assertEquals(N, t._2()[0]);
          assertEquals(N, t._2()[1]);
          continue;
        }
        if (t._1() == PartitionSums.GRADIENT) {
          continue;
        }
        blocks++;
        int b = t._1();
        int start = layout.start(b);
        int size = layout.size(b);
        double diff = 0;
        double norm = 0;
        for (int i = 0, o = 0; i < size; i++) {
          for (int j = i; j < size; j++, o++) {
            double exact = 0;
            for (int s = 0; s < N; s++) {
              exact += (double) g[s * p + start + i] * g[s * p + start + j];
            }
            diff += (t._2()[o] - exact) * (t._2()[o] - exact);
            norm += exact * exact;
          }
        }
        assertTrue(Math.sqrt(diff / norm) <= 1e-9, "block " + b + ": " + Math.sqrt(diff / norm));
      }
      assertEquals(layout.blockCount(), blocks);
    } finally {
      server.stop();
    }
  }

  /** The executor's model, counting the samples whose rows were made. */
  private record Counting(ExecutorModel model, long[] seen) implements ModelView {
    @Override
    public LossFunction loss() {
      return model.loss();
    }

    @Override
    public int classes() {
      return model.classes();
    }

    @Override
    public List<long[]> parameterShapes() {
      return model.parameterShapes();
    }

    @Override
    public long parameterCount() {
      return model.parameterCount();
    }

    @Override
    public Samples check(Samples samples, boolean needLabels) {
      return model.check(samples, needLabels);
    }

    @Override
    public float[] gradients(Samples checked) {
      seen[0] += checked.size();
      return model.gradients(checked);
    }

    @Override
    public float[] logits(Samples checked) {
      return model.logits(checked);
    }

    @Override
    public float[] cotangentGradients(Samples checked, float[] cotangent) {
      return model.cotangentGradients(checked, cotangent);
    }

    @Override
    public double meanLoss(Samples checked, float[] weights) {
      return model.meanLoss(checked, weights);
    }

    @Override
    public Evaluation evaluate(Samples checked, float[] weights) {
      return model.evaluate(checked, weights);
    }
  }
}
