package io.tandem.ops;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.AskPattern;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/** Asks every worker of a role on a node for its figures (for benchmarks and the CLI). */
final class WorkerStatsCollector {
  static List<WorkerProtocol.WorkerStats> collect(TandemNode node, Role role) throws Exception {
    Duration timeout = Duration.ofSeconds(30);
    WorkerDirectory.Workers workers = AskPattern.<WorkerDirectory.Command, WorkerDirectory.Workers>ask(
            node.directory(), r -> new WorkerDirectory.GetWorkers(role, Set.of(), r), timeout, node.system().scheduler())
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    return ask(node, workers.workers());
  }

  /** Asks each of {@code workers} for its figures, in order. */
  static List<WorkerProtocol.WorkerStats> ask(TandemNode node, java.util.Collection<ActorRef<WorkerProtocol.Command>> workers)
      throws Exception {
    List<WorkerProtocol.WorkerStats> out = new ArrayList<>();
    for (ActorRef<WorkerProtocol.Command> w : workers) {
      out.add(AskPattern.<WorkerProtocol.Command, WorkerProtocol.WorkerStats>ask(
              w, WorkerProtocol.GetStats::new, Duration.ofSeconds(30), node.system().scheduler())
          .toCompletableFuture().get(60, TimeUnit.SECONDS));
    }
    return out;
  }

  /** Steps and batched sequence-steps summed over workers: {steps, sequenceSteps}. */
  /** Summed over a role's workers: {steps, batched sequence-steps, busy nanoseconds, prefill tokens}. */
  static long[] batching(List<WorkerProtocol.WorkerStats> stats) {
    long steps = 0, seq = 0, busy = 0, prefill = 0;
    for (WorkerProtocol.WorkerStats s : stats) {
      steps += s.steps();
      seq += s.batchedSequenceSteps();
      busy += s.busyNanos();
      prefill += s.prefillTokens();
    }
    return new long[] {steps, seq, busy, prefill};
  }

  private WorkerStatsCollector() {}
}
