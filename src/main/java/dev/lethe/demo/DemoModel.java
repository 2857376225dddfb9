package dev.lethe.demo;

import dev.lethe.core.ModelConfig;
import dev.lethe.data.Dataset;
import java.time.Duration;

/**
 * The trained demo model: what {@code lethe serve} registers when its store is empty, plus the
 * figures that show the training reached its optimum. Arrays are shared, not copied: callers must
 * not modify them.
 *
 * @param onnx the serialised ONNX model (input {@code pixels} float [N, 64] raw 0..16, output
 *     {@code probabilities} float [N, 10], internal value {@code logits})
 * @param spec the model spec to register it with (name {@code digits})
 * @param weights the exact optimum W [10][64] in double (the ONNX model holds it as float32)
 * @param bias the exact optimum b [10] in double
 * @param trainingAccuracy fraction of training samples classified correctly
 * @param gradientNorm Euclidean norm of the objective's gradient at (W, b)
 * @param iterations Newton steps taken
 * @param trainingTime wall time of the optimisation (data already in memory)
 * @param trainingData the 1797 training samples, ids {@code digits:<row>}
 */
public record DemoModel(
    byte[] onnx,
    ModelConfig spec,
    double[][] weights,
    double[] bias,
    double trainingAccuracy,
    double gradientNorm,
    int iterations,
    Duration trainingTime,
    Dataset trainingData) {}
