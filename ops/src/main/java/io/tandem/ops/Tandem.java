package io.tandem.ops;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tandem} launcher: every command of the project behind one entry point. */
@Command(
    name = "tandem",
    mixinStandardHelpOptions = true,
    version = "tandem 0.1.0",
    description = "Speculative Thinking inference server: a small reasoning model writes, a large model takes over at reflection points.",
    subcommands = {
      GenerateCommand.class,
      ServeCommand.class,
      SimulateCommand.class,
      BenchCommand.class,
      MakeCheckpointCommand.class,
      TrainDemoCommand.class,
      EvalCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Tandem implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.setProperty("ai.djl.offline", "true");
    System.exit(commandLine().execute(args));
  }

  /** The command line with Tandem's error handling: one clear line on stderr, non-zero exit. */
  public static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Tandem());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      Throwable t = ex;
      while (t.getCause() != null && (t.getMessage() == null || t instanceof java.util.concurrent.CompletionException
          || t instanceof java.util.concurrent.ExecutionException)) t = t.getCause();
      cmd.getErr().println("tandem " + cmd.getCommandName() + ": " + (t.getMessage() == null ? t.toString() : t.getMessage()));
      return 1;
    });
    cl.setParameterExceptionHandler((ex, args) -> {
      ex.getCommandLine().getErr().println("tandem: " + ex.getMessage() + " (see --help)");
      return 2;
    });
    return cl;
  }
}
