package dev.lethe.cli;

import dev.lethe.bench.EraseBench;
import dev.lethe.bench.FisherBench;
import dev.lethe.bench.FisherBigBench;
import dev.lethe.bench.FisherLargeBench;
import dev.lethe.bench.GetModelBench;
import dev.lethe.bench.GradientBench;
import dev.lethe.bench.LoadBench;
import dev.lethe.bench.MemoryBench;
import dev.lethe.bench.UploadBench;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "bench", mixinStandardHelpOptions = true,
    description = {"Run a benchmark; each prints its figure beside a baseline measured in the same run.",
        "  get-model [sizeMiB] [repeats]   GetModel over loopback vs reading the same bytes from a file",
        "  gradients [seconds] [lengths]   per-sample gradient throughput vs forward inference and memcpy;",
        "                                  a new sequence length's first call (graph build) vs warm calls",
        "  fisher                          gram vs sherman-morrison build, Gram GFLOP/s vs EJML, apply vs memcpy",
        "  fisher-big                      a 2 GiB inverse Fisher built and applied (run with -Xmx512m)",
        "  fisher-large [n] [h1] [h2] [kind] [dataDir]",
        "                                  EKFAC of an 11.6M-parameter MLP: build, storage, erase 1/100 vs block-diagonal",
        "  erase [trainSamples] [hidden] [epochs] [repeats] [dataDir]",
        "                                  erase latency (1, 10, 100 samples) vs retraining from scratch",
        "  load [streams] [seconds]        GetModel and Evaluate p50/p99 under concurrent streams while erases run",
        "  memory [heapMiB] [hidden] [samples] [streams] [seconds]",
        "                                  the sidecar's RSS idle, during a Fisher build and 32 Gradients streams, beside its budget",
        "  upload [heapMiB] [modelMiB]      a model larger than the heap registered and read back, beside the old upload limit"})
final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "Benchmark name: get-model, gradients, fisher, fisher-big, fisher-large, erase, load, memory, upload.")
  String name;

  @Parameters(index = "1..*", description = "Benchmark arguments.")
  List<String> args = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    String[] a = args.toArray(String[]::new);
    switch (name) {
      case "get-model" -> GetModelBench.main(a);
      case "gradients" -> GradientBench.main(a);
      case "fisher" -> FisherBench.main(a);
      case "fisher-big" -> FisherBigBench.main(a);
      case "fisher-large" -> FisherLargeBench.main(a);
      case "erase" -> EraseBench.main(a);
      case "load" -> LoadBench.main(a);
      case "memory" -> MemoryBench.main(a);
      case "upload" -> UploadBench.main(a);
      default -> {
        System.err.println("unknown benchmark '" + name + "'; see lethe bench --help");
        return 2;
      }
    }
    return 0;
  }
}
