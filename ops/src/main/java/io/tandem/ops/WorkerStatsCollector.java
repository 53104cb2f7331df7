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
    return ask(node, workers(node, role));
  }

  /** The workers of {@code role} the node's directory offers now. */
  private static Set<ActorRef<WorkerProtocol.Command>> workers(TandemNode node, Role role) throws Exception {
    return AskPattern.<WorkerDirectory.Command, WorkerDirectory.Workers>ask(node.directory(),
            r -> new WorkerDirectory.GetWorkers(role, Set.of(), r), Duration.ofSeconds(30), node.system().scheduler())
        .toCompletableFuture().get(30, TimeUnit.SECONDS).workers();
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

  /**
   * Frees the prefix caches of every worker of {@code roles} on the node ({@link
   * WorkerProtocol.ResetPrefixCache}), so that a measured run's prefills are not shortened by what
   * an earlier run left cached; returns how many cached prefixes were freed.
   */
  static int resetPrefixCaches(TandemNode node, java.util.Collection<Role> roles) throws Exception {
    int freed = 0;
    for (Role role : roles)
      for (ActorRef<WorkerProtocol.Command> w : workers(node, role))
        freed += AskPattern.<WorkerProtocol.Command, WorkerProtocol.PrefixCacheReset>ask(
                w, WorkerProtocol.ResetPrefixCache::new, Duration.ofSeconds(30), node.system().scheduler())
            .toCompletableFuture().get(60, TimeUnit.SECONDS).sequences();
    return freed;
  }

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
