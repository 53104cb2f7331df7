package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One per node: follows the Receptionist's listings of small and large workers (cluster-wide when
 * the node is a cluster member), polls each listed worker's load, and tells sessions who is there
 * and how busy. A session that asks while no worker of a role is listed is answered as soon as one
 * registers, so no request is sent into an empty listing.
 */
public final class WorkerDirectory {

  /** What the directory can be told. */
  public interface Command {}

  /**
   * Which workers of {@code role} are there now, leaving out {@code exclude} (answered as soon as
   * at least one other is listed).
   */
  public record GetWorkers(Role role, Set<ActorRef<WorkerProtocol.Command>> exclude, ActorRef<Workers> replyTo)
      implements Command {
    public GetWorkers {
      exclude = exclude == null ? Set.of() : Set.copyOf(exclude);
    }
  }

  /**
   * The answer to {@link GetWorkers}: the workers, and the load (queued plus running requests) of
   * those whose figures the directory has; a worker missing from {@code load} is not known yet.
   */
  public record Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers,
      Map<ActorRef<WorkerProtocol.Command>, Integer> load) {
    public Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers) {
      this(role, workers, Map.of());
    }
  }

  private record Listed(Role role, Set<ActorRef<WorkerProtocol.Command>> workers) implements Command {}

  private enum Poll implements Command {
    INSTANCE
  }

  private record Load(ActorRef<WorkerProtocol.Command> worker, int load) implements Command {}

  private enum NoAnswer implements Command {
    INSTANCE
  }

  /** A directory that does not poll load. */
  public static Behavior<Command> create() {
    return create(Duration.ZERO);
  }

  /** A directory that asks every listed worker for its figures every {@code pollInterval} (zero: never). */
  public static Behavior<Command> create(Duration pollInterval) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      // One adapter for both keys: message adapters are per message class.
      ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, l -> {
        Role role = l.isForKey(ServiceKeys.SMALL_WORKERS) ? Role.small : Role.large;
        return new Listed(role, l.getServiceInstances(ServiceKeys.forRole(role)));
      });
      for (Role role : Role.values())
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(ServiceKeys.forRole(role), adapter));
      if (!pollInterval.isZero()) timers.startTimerWithFixedDelay(Poll.INSTANCE, pollInterval);
      return new State(ctx, pollInterval).behavior();
    }));
  }

  private static final class State {
    final ActorContext<Command> ctx;
    final Duration pollInterval;
    final Map<Role, Set<ActorRef<WorkerProtocol.Command>>> listed = new EnumMap<>(Role.class);
    final Map<Role, List<GetWorkers>> waiting = new EnumMap<>(Role.class);
    final Map<ActorRef<WorkerProtocol.Command>, Integer> load = new HashMap<>();

    State(ActorContext<Command> ctx, Duration pollInterval) {
      this.ctx = ctx;
      this.pollInterval = pollInterval;
      for (Role r : Role.values()) {
        listed.put(r, Set.of());
        waiting.put(r, new ArrayList<>());
      }
    }

    Behavior<Command> behavior() {
      return Behaviors.receive(Command.class)
          .onMessage(Listed.class, l -> {
            listed.put(l.role(), Set.copyOf(l.workers()));
            Set<ActorRef<WorkerProtocol.Command>> all = new HashSet<>();
            for (Set<ActorRef<WorkerProtocol.Command>> s : listed.values()) all.addAll(s);
            load.keySet().retainAll(all);
            waiting.get(l.role()).removeIf(this::answer);
            return Behaviors.same();
          })
          .onMessage(GetWorkers.class, g -> {
            if (!answer(g)) waiting.get(g.role()).add(g);
            return Behaviors.same();
          })
          .onMessageEquals(Poll.INSTANCE, this::poll)
          .onMessage(Load.class, l -> {
            if (listed.get(Role.small).contains(l.worker()) || listed.get(Role.large).contains(l.worker()))
              load.put(l.worker(), l.load());
            return Behaviors.same();
          })
          .onMessageEquals(NoAnswer.INSTANCE, Behaviors::same)
          .build();
    }

    private Behavior<Command> poll() {
      for (Set<ActorRef<WorkerProtocol.Command>> workers : listed.values())
        for (ActorRef<WorkerProtocol.Command> w : workers)
          ctx.ask(WorkerProtocol.WorkerStats.class, w, pollInterval, WorkerProtocol.GetStats::new,
              (stats, failure) -> stats == null ? NoAnswer.INSTANCE : new Load(w, stats.queueLength() + stats.running()));
      return Behaviors.same();
    }

    private boolean answer(GetWorkers g) {
      Set<ActorRef<WorkerProtocol.Command>> usable = new HashSet<>(listed.get(g.role()));
      usable.removeAll(g.exclude());
      if (usable.isEmpty()) return false;
      Map<ActorRef<WorkerProtocol.Command>, Integer> loads = new HashMap<>();
      for (ActorRef<WorkerProtocol.Command> w : usable) {
        Integer l = load.get(w);
        if (l != null) loads.put(w, l);
      }
      g.replyTo().tell(new Workers(g.role(), Set.copyOf(usable), Map.copyOf(loads)));
      return true;
    }
  }

  private WorkerDirectory() {}
}
