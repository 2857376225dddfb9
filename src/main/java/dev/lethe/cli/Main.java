package dev.lethe.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Entry point of lethe.jar. With no arguments it runs {@code serve}: the sidecar with an embedded
 * store and the digits demo model.
 */
@Command(
    name = "lethe",
    mixinStandardHelpOptions = true,
    version = "lethe 0.1.0",
    description = "Model-store sidecar that erases training samples from deployed models.",
    subcommands = {
      ServeCommand.class,
      PutModelCommand.class,
      ModelsCommand.class,
      GetModelCommand.class,
      WatchCommand.class,
      ActivateCommand.class,
      ScoreCommand.class,
      EvaluateCommand.class,
      GradientsCommand.class,
      BuildFisherCommand.class,
      EraseSamplesCommand.class,
      CalibrateCommand.class,
      ErasuresCommand.class,
      DeleteModelCommand.class,
      UpdateSpecCommand.class,
      BenchCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {
  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }

  public static void main(String[] args) {
    System.setProperty("java.util.logging.SimpleFormatter.format",
        "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    String[] effective = args.length == 0 ? new String[] {"serve"} : args;
    System.exit(commandLine().execute(effective));
  }

  /** The configured command line (tests run commands through it without exiting). */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((e, line, parse) -> {
      line.getErr().println("error: " + LocalErrors.message(e));
      return LocalErrors.exitCode(e);
    });
    return cl;
  }
}
