package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One per node: follows the Receptionist's listings of small and large workers and tells sessions
 * who is there. A session that asks while no worker of a role is listed is answered as soon as one
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

  /** The answer to {@link GetWorkers}. */
  public record Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers) {}

  private record Listed(Role role, Set<ActorRef<WorkerProtocol.Command>> workers) implements Command {}

  public static Behavior<Command> create() {
    return Behaviors.setup(
        ctx -> {
          // One adapter for both keys: message adapters are per message class.
          ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, l -> {
            Role role = l.isForKey(ServiceKeys.SMALL_WORKERS) ? Role.small : Role.large;
            return new Listed(role, l.getServiceInstances(ServiceKeys.forRole(role)));
          });
          for (Role role : Role.values())
            ctx.getSystem().receptionist().tell(Receptionist.subscribe(ServiceKeys.forRole(role), adapter));
          Map<Role, Set<ActorRef<WorkerProtocol.Command>>> listed = new EnumMap<>(Role.class);
          Map<Role, List<GetWorkers>> waiting = new EnumMap<>(Role.class);
          for (Role r : Role.values()) {
            listed.put(r, Set.of());
            waiting.put(r, new ArrayList<>());
          }
          return Behaviors.receive(Command.class)
              .onMessage(Listed.class, l -> {
                listed.put(l.role(), Set.copyOf(l.workers()));
                waiting.get(l.role()).removeIf(g -> answer(g, listed.get(l.role())));
                return Behaviors.same();
              })
              .onMessage(GetWorkers.class, g -> {
                if (!answer(g, listed.get(g.role()))) waiting.get(g.role()).add(g);
                return Behaviors.same();
              })
              .build();
        });
  }

  private static boolean answer(GetWorkers g, Set<ActorRef<WorkerProtocol.Command>> listed) {
    Set<ActorRef<WorkerProtocol.Command>> usable = new java.util.HashSet<>(listed);
    usable.removeAll(g.exclude());
    if (usable.isEmpty()) return false;
    g.replyTo().tell(new Workers(g.role(), Set.copyOf(usable)));
    return true;
  }

  private WorkerDirectory() {}
}
