package io.tandem.orchestrator.session;

import akka.Done;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * The parent of all sessions on a node: spawns one {@link SessionActor} per request and tells the
 * caller its reference (the HTTP layer needs it to cancel when a client goes away). Registered with
 * the Receptionist under {@link ServiceKeys#SESSIONS}, it tells a stopping worker that is the last
 * of its role how many of its sessions in flight may still need that role ({@link
 * WorkerProtocol.CountSessions}: see the worker's drain). The HTTP layer waits for a worker of a
 * role through it as sessions do ({@link FindWorkers}).
 */
public final class Sessions {

  /** What the session parent can be told. */
  public interface Command {}

  /** Start a session for {@code request}; its events go to {@code client}. */
  public record Start(SessionRequest request, ActorRef<SessionEvent> client, ActorRef<Started> replyTo)
      implements Command {}

  /** The session is running. */
  public record Started(String sessionId, ActorRef<SessionActor.Command> session) {}

  /**
   * Which workers of {@code role} sessions may be given, answered as a session's first look for one
   * is ({@link WorkerDirectory.GetWorkers}: once one is offered, or when none is coming): for the HTTP
   * layer, which bounds the wait by {@code worker-wait} as a session does.
   */
  public record FindWorkers(Role role, ActorRef<WorkerDirectory.Workers> replyTo) implements Command {}

  /**
   * The workers that withdrew and still run (draining), as the session directory has them
   * ({@link WorkerDirectory.GetWithdrawn}): for {@code /metrics}.
   */
  public record FindWithdrawn(ActorRef<WorkerDirectory.Withdrawn> replyTo) implements Command {}

  /** A worker's question, through the adapter registered with the Receptionist. */
  private record Count(WorkerProtocol.CountSessions question) implements Command {}

  /** The directory's workers of the role, for {@code question}. */
  private record Offered(WorkerProtocol.CountSessions question, Set<ActorRef<WorkerProtocol.Command>> workers)
      implements Command {}

  /** A session ended. */
  private record Ended(ActorRef<SessionActor.Command> session) implements Command {}

  /** This node ran again after a pause the other nodes most likely downed it for ({@link PauseWatch}). */
  private enum PausedPastDowning implements Command {
    INSTANCE
  }

  /** A change of the cluster's membership: this node's own downing or removal is each session's end. */
  private record Membership(akka.cluster.ClusterEvent.MemberEvent event) implements Command {}

  /**
   * CoordinatedShutdown runs because the cluster downed this node: each session is told, and
   * {@code replyTo} answered once none runs, before the actor system stops them silently.
   */
  private record ShutDownForDowning(ActorRef<Done> replyTo) implements Command {}

  /** The longest CoordinatedShutdown waits for the sessions of a downed node to tell their clients. */
  private static final Duration DOWNED_SESSIONS_END = Duration.ofSeconds(5);

  public static Behavior<Command> create(ActorRef<WorkerDirectory.Command> directory, SessionSettings settings) {
    return Behaviors.setup(ctx -> {
      Map<ActorRef<SessionActor.Command>, Mode> running = new HashMap<>();
      List<ActorRef<Done>> awaitingEnd = new ArrayList<>();
      ctx.getSystem().receptionist().tell(Receptionist.register(ServiceKeys.SESSIONS,
          ctx.messageAdapter(WorkerProtocol.CountSessions.class, Count::new)));
      // Downed, this node's remote workers are out of reach, and death watch need not say so before the node
      // stops: each session is told at once (and fails naming the node's standing, see NodeStanding).
      if (RoleSupply.get(ctx.getSystem()).clustered()) {
        akka.cluster.typed.Cluster.get(ctx.getSystem()).subscriptions().tell(akka.cluster.typed.Subscribe.create(
            ctx.messageAdapter(akka.cluster.ClusterEvent.MemberEvent.class, Membership::new),
            akka.cluster.ClusterEvent.MemberEvent.class));
        // Ticking from the start, so that a pause is seen whenever it comes; back from one the others most likely downed
        // this node for, each session ends at once, as a downed node's do, not some 12 s later (tester47a).
        ActorRef<Command> self = ctx.getSelf();
        PauseWatch.get(ctx.getSystem()).onPause(() -> self.tell(PausedPastDowning.INSTANCE));
      }
      // The MemberDowned event may never come: a node that sees itself downed stops its cluster daemons, the
      // event publisher among them, at once (it did not come in about one run of DownedOrchestratorTest in
      // fifteen, and the actor system then stopped the sessions without a word to their clients). The
      // CoordinatedShutdown the cluster then runs, with ClusterDowningReason, does come: its first phase tells
      // the sessions too, and waits until they have told their clients.
      if (RoleSupply.get(ctx.getSystem()).clustered()) {
        ActorSystem<?> system = ctx.getSystem();
        ActorRef<Command> self = ctx.getSelf();
        CoordinatedShutdown shutdown = CoordinatedShutdown.get(system);
        shutdown.addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(), "tandem-downed-" + self.path().name(),
            () -> shutdown.getShutdownReason().filter(r -> r == CoordinatedShutdown.clusterDowningReason()).isEmpty()
                ? CompletableFuture.completedFuture(Done.getInstance())
                : AskPattern.ask(self, ShutDownForDowning::new, DOWNED_SESSIONS_END, system.scheduler()));
      }
      return Behaviors.receive(Command.class)
          .onMessage(Membership.class, m -> {
            boolean self = m.event().member().address().equals(
                akka.cluster.typed.Cluster.get(ctx.getSystem()).selfMember().address());
            if (self && (m.event() instanceof akka.cluster.ClusterEvent.MemberDowned
                || m.event() instanceof akka.cluster.ClusterEvent.MemberRemoved))
              running.keySet().forEach(session -> session.tell(SessionActor.NodeDowned.INSTANCE));
            return Behaviors.same();
          })
          .onMessageEquals(PausedPastDowning.INSTANCE, () -> {
            String standing = NodeStanding.gone(ctx.getSystem());
            if (standing != null)
              ctx.getLog().warn("{}; {} in flight {} now, and new requests are refused until it has run again for a while or left",
                  standing, io.tandem.protocol.text.Plural.count(running.size(), "session"), running.size() == 1 ? "ends" : "end");
            running.keySet().forEach(session -> session.tell(SessionActor.NodeDowned.INSTANCE));
            return Behaviors.same();
          })
          .onMessage(ShutDownForDowning.class, d -> {
            running.keySet().forEach(session -> session.tell(SessionActor.NodeDowned.INSTANCE));
            if (running.isEmpty()) d.replyTo().tell(Done.getInstance());
            else awaitingEnd.add(d.replyTo());
            return Behaviors.same();
          })
          .onMessage(Start.class, s -> {
            ActorRef<SessionActor.Command> session = ctx.spawnAnonymous(
                SessionActor.create(s.request(), s.client(), directory, settings));
            running.put(session, s.request().mode());
            ctx.watchWith(session, new Ended(session));
            if (s.replyTo() != null) s.replyTo().tell(new Started(s.request().sessionId(), session));
            // A request admitted before this node was out of the cluster for good (back from a pause it was most likely
            // downed for, downed, leaving) ends at once, as the sessions in flight then did, rather than wait for workers
            // this node cannot reach (tester51d: three requests counted across a 20 s SIGSTOP started after it and waited
            // 7.5 s, until the node learnt it was downed).
            if (NodeStanding.gone(ctx.getSystem()) != null)
              session.tell(SessionActor.NodeDowned.INSTANCE);
            return Behaviors.same();
          })
          .onMessage(FindWorkers.class, f -> {
            directory.tell(new WorkerDirectory.GetWorkers(f.role(), Set.of(), f.replyTo()));
            return Behaviors.same();
          })
          .onMessage(FindWithdrawn.class, f -> {
            directory.tell(new WorkerDirectory.GetWithdrawn(f.replyTo()));
            return Behaviors.same();
          })
          .onMessage(Ended.class, e -> {
            running.remove(e.session());
            if (running.isEmpty()) {
              awaitingEnd.forEach(r -> r.tell(Done.getInstance()));
              awaitingEnd.clear();
            }
            return Behaviors.same();
          })
          .onMessage(Count.class, c -> {
            // What sessions are offered now, as a session asking for a worker would be answered.
            ctx.ask(WorkerDirectory.Workers.class, directory, Duration.ofSeconds(1),
                to -> new WorkerDirectory.GetWorkers(c.question().role(), Set.of(), to, true),
                (w, error) -> new Offered(c.question(), w == null ? null : w.workers()));
            return Behaviors.same();
          })
          .onMessage(Offered.class, o -> {
            if (o.workers() == null) return Behaviors.same(); // no answer: the worker asks again
            Role role = o.question().role();
            int n = (int) running.values().stream().filter(m -> uses(m, role)).count();
            o.question().replyTo().tell(new WorkerProtocol.SessionsInFlight(n, o.workers().contains(o.question().worker())));
            return Behaviors.same();
          })
          .build();
    });
  }

  /** Whether a session of {@code mode} may need a worker of {@code role}: speculative ones both. */
  static boolean uses(Mode mode, Role role) {
    return mode == Mode.speculative || mode.name().equals(role.name());
  }

  private Sessions() {}
}
