package io.tandem.ops;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code tandem bench ...}: benchmarks that print their figures. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = "Benchmarks: orchestration overhead, model speed, serving throughput.",
    subcommands = {
      BenchOrchestrationCommand.class,
      BenchModelCommand.class,
      BenchServeCommand.class,
      BenchHttpCommand.class
    })
public final class BenchCommand implements java.util.concurrent.Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    return Tandem.missingSubcommand(spec);
  }
}
