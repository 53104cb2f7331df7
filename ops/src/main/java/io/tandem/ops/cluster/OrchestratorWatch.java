package io.tandem.ops.cluster;

import akka.actor.Address;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.TimerScheduler;
import akka.cluster.ClusterEvent;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import io.tandem.protocol.text.Seconds;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

/**
 * On a node without the orchestrator role, one WARN when its cluster has had no orchestrator that
 * is up for {@code tandem.cluster.no-orchestrator-warning-after}, counted from this node's own Up: its workers then serve nobody,
 * and nothing else says so. The usual cause is an orchestrator restarted while none of its other
 * seed nodes answered, which founded a cluster of its own (Akka's rule for the first seed node).
 */
public final class OrchestratorWatch {

  /** What the watch is told: membership changes, and that the wait has passed. */
  public interface Command {}

  private record Membership(ClusterEvent.MemberEvent event) implements Command {}

  /** This node is Up: the wait starts then (a node still joining is in no cluster yet, and warns of that itself). */
  private record SelfUp(akka.cluster.typed.SelfUp event) implements Command {}

  private enum Alone implements Command { INSTANCE }

  public static Behavior<Command> create(Duration warnAfter) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      ctx.setLoggerName(OrchestratorWatch.class);
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.messageAdapter(ClusterEvent.MemberEvent.class, Membership::new), ClusterEvent.MemberEvent.class));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.messageAdapter(akka.cluster.typed.SelfUp.class, SelfUp::new), akka.cluster.typed.SelfUp.class));
      return watching(ctx, timers, warnAfter, new HashSet<>(), false);
    }));
  }

  /** {@code orchestrators}: the addresses of the orchestrators up; {@code warned}: whether the WARN was given since the last one left. */
  private static Behavior<Command> watching(ActorContext<Command> ctx, TimerScheduler<Command> timers, Duration warnAfter,
      Set<Address> orchestrators, boolean warned) {
    return Behaviors.receive(Command.class)
        .onMessage(SelfUp.class, m -> {
          if (orchestrators.isEmpty()) timers.startSingleTimer(Alone.INSTANCE, warnAfter);
          return Behaviors.same();
        })
        .onMessage(Membership.class, m -> {
          boolean orchestrator = m.event().member().hasRole("orchestrator");
          if (!orchestrator) return Behaviors.same();
          Address address = m.event().member().address();
          if (m.event() instanceof ClusterEvent.MemberUp) {
            orchestrators.add(address);
            timers.cancel(Alone.INSTANCE);
            if (warned) ctx.getLog().info("orchestrator {} is in the cluster: this node's workers serve its sessions", address);
            return watching(ctx, timers, warnAfter, orchestrators, false);
          }
          if (m.event() instanceof ClusterEvent.MemberRemoved || m.event() instanceof ClusterEvent.MemberExited
              || m.event() instanceof ClusterEvent.MemberDowned) {
            if (orchestrators.remove(address) && orchestrators.isEmpty()) timers.startSingleTimer(Alone.INSTANCE, warnAfter);
          }
          return Behaviors.same();
        })
        .onMessageEquals(Alone.INSTANCE, () -> {
          ctx.getLog().warn(warning(Cluster.get(ctx.getSystem()).selfMember().address().toString(), warnAfter));
          return watching(ctx, timers, warnAfter, orchestrators, true);
        })
        .build();
  }

  /** The WARN of node {@code self} that has had no orchestrator in its cluster for {@code after}. */
  static String warning(String self, Duration after) {
    return "node " + self + " has had no orchestrator in its cluster for " + Seconds.of(after) + " s: its workers serve no"
        + " sessions. An orchestrator that is restarting (a rolling restart, a crash under a supervisor) joins by itself"
        + " within a minute or so: wait for it. One that has run for longer is in a cluster of its own (restarted while none"
        + " of its other seed nodes answered, it founded a new one): restart this node to join it (ops/cluster/local.sh"
        + " restart NODE), and give every node the same --seed-nodes, two or more that are rarely down together";
  }

  private OrchestratorWatch() {}
}
