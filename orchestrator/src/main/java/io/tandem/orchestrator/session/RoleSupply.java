package io.tandem.orchestrator.session;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import io.tandem.protocol.Role;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Which roles' workers this node's sessions can ever be given: on a cluster member, every role's (a
 * node of any role may join, now or later); outside a cluster, which nothing can join, only those of
 * the roles this node runs itself ({@code tandem.roles}; where it is not set, every role, as the
 * launcher's default). Decided once per node, as an Akka extension of its actor system, and read by
 * both sides that answer a request no worker of a role serves: a session ({@link SessionActor}) and
 * the HTTP layer (counting a prompt, readiness). Where none can come the answer is {@link
 * io.tandem.protocol.FailureCode#ROLE_NOT_SERVED}, which no retry clears; else it is retryable.
 *
 * @param clustered whether this node is a cluster member (Akka's cluster actor-ref provider)
 * @param runsHere the model roles this node runs
 * @param workerWait {@code tandem.session.worker-wait}: how long a member that left counts as coming
 * @param leftAt when a member of each role was last removed after leaving ({@link System#nanoTime})
 * @param withdrawing the roles whose workers withdrew while their node stayed a member, per node:
 *     a drain ({@code WorkerDrain}) before the node leaves, as the session directory last saw it
 */
public record RoleSupply(boolean clustered, Set<Role> runsHere, Duration workerWait, Map<Role, Long> leftAt,
    java.util.concurrent.atomic.AtomicReference<Map<akka.actor.Address, Set<Role>>> withdrawing) implements Extension {

  /** Akka's provider of cluster members, as {@code akka.actor.provider = cluster} names it in full. */
  private static final String CLUSTER_PROVIDER = "akka.cluster.ClusterActorRefProvider";

  private static final ExtensionId<RoleSupply> ID = new ExtensionId<>() {
    @Override
    public RoleSupply createExtension(ActorSystem<?> system) {
      var config = system.settings().config();
      Set<Role> roles = EnumSet.allOf(Role.class);
      if (config.hasPath("tandem.roles")) {
        roles = EnumSet.noneOf(Role.class);
        for (String r : config.getStringList("tandem.roles"))
          for (Role role : Role.values()) if (role.name().equals(r)) roles.add(role);
      }
      return new RoleSupply(system.classicSystem().settings().ProviderClass().equals(CLUSTER_PROVIDER), roles,
          config.hasPath(WORKER_WAIT) ? config.getDuration(WORKER_WAIT) : Duration.ZERO,
          new java.util.concurrent.ConcurrentHashMap<>(), new java.util.concurrent.atomic.AtomicReference<>(Map.of()));
    }
  };

  private static final String WORKER_WAIT = "tandem.session.worker-wait";

  public RoleSupply {
    runsHere = Set.copyOf(runsHere);
  }

  /**
   * A member of {@code roles} (Akka's role names) left the cluster and was removed, not downed: a
   * drain, as in a rolling restart, whose node is waited for ({@link #memberComing}) up to {@code
   * tandem.session.worker-wait} from now.
   */
  public void left(Set<String> roles) {
    long now = System.nanoTime();
    for (Role r : Role.values()) if (roles.contains(r.name())) leftAt.put(r, now);
  }

  /**
   * The workers that withdrew while their node stayed a member, by node, as the session directory
   * sees them now ({@code WorkerDirectory.GetWithdrawn}): their nodes are stopping.
   */
  public void withdrawing(Map<akka.actor.Address, Set<Role>> now) {
    withdrawing.set(Map.copyOf(now));
  }

  /** This node's supply, decided when first asked. */
  public static RoleSupply get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** Whether a worker of {@code role} may yet be offered to this node's sessions. */
  public boolean canCome(Role role) {
    return clustered || runsHere.contains(role);
  }

  /**
   * Whether a cluster member of {@code role} is on its way to offering workers, as {@code system}'s
   * cluster sees it now: a member joining, weakly up or up, reachable or not. A member the failure
   * detector finds unreachable is still a member until it is downed (Akka's cluster membership:
   * reachability is an observation, downing the decision), and its node may only have stalled (a GC
   * pause, SIGSTOP), so its workers may come back. A member leaving, or one removed after it left
   * less than {@code tandem.session.worker-wait} ago, counts too: a drain, as in a rolling restart,
   * whose node comes back (a new request waits for it as a session does); a downed one is not coming.
   * Outside a cluster a node's roles are fixed, so false. The HTTP layer reads it to decide whether a
   * new request waits for a worker of the role, and the session directory to stop a wait once none is
   * coming.
   */
  public boolean memberComing(ActorSystem<?> system, Role role) {
    return comingAs(system, role) != null;
  }

  /**
   * {@link #memberComing}, leaving out the members in {@code decided}: those the caller was told
   * were downed or removed ({@code ClusterEvent.MemberDowned}, {@code MemberRemoved}), which {@code
   * Cluster.state()} may still list as they were, up and unreachable, for a moment (it is updated by
   * an actor of its own, which may read the same events later than the caller).
   */
  public boolean memberComing(ActorSystem<?> system, Role role, Set<akka.cluster.UniqueAddress> decided) {
    return comingAs(system, role, decided) != null;
  }

  /**
   * How a member of {@code role} is on its way ({@link #memberComing}), in words for a readiness
   * status, or null when none is: in the cluster (joining, loading, unreachable), leaving it (a
   * drain), or gone after leaving less than {@code worker-wait} ago, when a new request still waits
   * for a worker of the role (tester44c read "in the cluster but offers none now" of a node that had left).
   */
  public String comingAs(ActorSystem<?> system, Role role) {
    return comingAs(system, role, Set.of());
  }

  private String comingAs(ActorSystem<?> system, Role role, Set<akka.cluster.UniqueAddress> decided) {
    if (!clustered) return null;
    String leaving = null;
    for (Member m : Cluster.get(system).state().getMembers()) {
      if (!m.hasRole(role.name()) || decided.contains(m.uniqueAddress())) continue;
      MemberStatus s = m.status();
      boolean drains = withdrawing.get().getOrDefault(m.address(), Set.of()).contains(role);
      if (!drains && (s.equals(MemberStatus.joining()) || s.equals(MemberStatus.weaklyUp()) || s.equals(MemberStatus.up())))
        return "a " + role + " node is in the cluster but offers none now: joining, loading its model, or unreachable: stalled,"
            + " or crashed and not yet downed";
      // Withdrawn before its node leaves: the drain's last moments, between the last worker of a role
      // withdrawing and its member leaving (tester44e read "offers none now" for up to a second).
      if (drains || s.equals(MemberStatus.leaving()) || s.equals(MemberStatus.exiting()))
        leaving = "a " + role + " node is leaving the cluster (stopped, to restart or for good); a request that needs one waits up"
            + " to " + workerWait.toSeconds() + " s (tandem.session.worker-wait) for a " + role + " worker";
    }
    if (leaving != null) return leaving;
    Long left = leftAt.get(role);
    if (left == null) return null;
    long ago = System.nanoTime() - left;
    if (ago >= workerWait.toNanos()) return null;
    long wait = workerWait.toSeconds();
    return "a " + role + " node left the cluster " + java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(ago) + " s ago (stopped, to"
        + " restart or for good); until " + wait + " s after it left, a request that needs one waits up to " + wait
        + " s (tandem.session.worker-wait) for a " + role + " worker: restart it, or start another";
  }
}
