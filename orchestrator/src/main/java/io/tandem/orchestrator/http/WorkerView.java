package io.tandem.orchestrator.http;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.WorkerStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * What the HTTP layer knows of the workers: who is listed per role (readiness), their figures
 * (metrics), and the smallest context length among them (prompt limits), cached for a few seconds.
 */
final class WorkerView {
  private static final Duration ASK = Duration.ofSeconds(2);
  private static final long STALE_NANOS = 5_000_000_000L;

  private final ActorSystem<?> system;
  private volatile int contextLength = Integer.MAX_VALUE;
  private volatile long contextAt;
  private final AtomicBoolean refreshing = new AtomicBoolean();

  WorkerView(ActorSystem<?> system) {
    this.system = system;
  }

  /** The workers listed now, per role. */
  CompletionStage<Map<Role, Set<ActorRef<WorkerProtocol.Command>>>> listing() {
    List<CompletableFuture<Receptionist.Listing>> asks = new ArrayList<>();
    for (Role r : Role.values())
      asks.add(AskPattern.<Receptionist.Command, Receptionist.Listing>ask(system.receptionist(),
          reply -> Receptionist.find(ServiceKeys.forRole(r), reply), ASK, system.scheduler()).toCompletableFuture());
    return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(v -> {
      Map<Role, Set<ActorRef<WorkerProtocol.Command>>> out = new EnumMap<>(Role.class);
      for (Role r : Role.values())
        out.put(r, asks.get(r.ordinal()).join().getServiceInstances(ServiceKeys.forRole(r)));
      return out;
    });
  }

  /** Every listed worker's figures; a worker that does not answer in time is left out. */
  CompletionStage<List<WorkerStats>> stats() {
    return listing().thenCompose(listed -> {
      List<CompletableFuture<WorkerStats>> asks = new ArrayList<>();
      for (Set<ActorRef<WorkerProtocol.Command>> ws : listed.values())
        for (ActorRef<WorkerProtocol.Command> w : ws)
          asks.add(AskPattern.<WorkerProtocol.Command, WorkerStats>ask(w, WorkerProtocol.GetStats::new, ASK, system.scheduler())
              .toCompletableFuture().exceptionally(t -> null));
      return CompletableFuture.allOf(asks.toArray(CompletableFuture[]::new)).thenApply(v -> {
        List<WorkerStats> out = new ArrayList<>();
        for (CompletableFuture<WorkerStats> f : asks) if (f.join() != null) out.add(f.join());
        int min = Integer.MAX_VALUE;
        for (WorkerStats s : out) if (s.contextLength() > 0) min = Math.min(min, s.contextLength());
        contextLength = min;
        contextAt = System.nanoTime();
        return out;
      });
    });
  }

  /**
   * The smallest context among the workers as last seen (MAX_VALUE before anyone answered);
   * refreshed in the background when stale.
   */
  int contextLength() {
    if (System.nanoTime() - contextAt > STALE_NANOS && refreshing.compareAndSet(false, true))
      stats().whenComplete((s, t) -> refreshing.set(false));
    return contextLength;
  }
}
