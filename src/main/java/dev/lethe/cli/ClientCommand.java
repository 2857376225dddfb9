package dev.lethe.cli;

import dev.lethe.client.LetheClient;
import dev.lethe.client.RemoteException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Base of the client commands: opens a {@link LetheClient} to --target, runs the command, and
 * turns a failed call into "error: CODE: message" on stderr and exit code 2 (local errors are
 * handled alike by {@link Main}). Gives every client command {@code -h/--help}: picocli's
 * standard help option without its {@code --version}, which the commands use for a model
 * version.
 */
abstract class ClientCommand implements Callable<Integer> {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  @Mixin ClientOptions client;
  @Spec CommandSpec spec;

  abstract void run(LetheClient lethe, PrintWriter out) throws Exception;

  @Override
  public Integer call() throws Exception {
    try (LetheClient lethe = LetheClient.connect(client.target, client.security())) {
      run(lethe, spec.commandLine().getOut());
      spec.commandLine().getOut().flush();
      return 0;
    } catch (RemoteException e) {
      spec.commandLine().getErr().println("error: " + e.code() + ": " + e.getMessage());
      return 2;
    }
  }
}
