package io.tandem.orchestrator.session;

import akka.actor.Address;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.MemberStatus;
import akka.cluster.UniqueAddress;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.text.Seconds;
import io.tandem.protocol.worker.WorkerProtocol;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One per node: follows the Receptionist's listings of small and large workers (cluster-wide when
 * the node is a cluster member), polls each listed worker's figures, and tells sessions who is
 * there, how busy, how long a worker's queue would hold a new request ({@link GetQueueWait}), and
 * which nodes the cluster's failure detector currently finds unreachable. A
 * session that asks while no worker of a role is listed is answered as soon as one registers (or
 * its node is reachable again), so no request is sent into an empty listing, or, once a member is
 * downed and no member of the role is left on its way, with none ({@link Workers#gone}); workers on
 * unreachable nodes are never offered.
 *
 * <p>Reachability comes from Akka's own failure detector ({@code akka.cluster.failure-detector}):
 * the directory subscribes to the cluster's {@link ClusterEvent.ReachabilityEvent}s and
 * {@link ClusterEvent.MemberDowned} and {@link ClusterEvent.MemberRemoved}, and passes the set of unreachable node addresses on to every
 * session that {@link WatchNodes watches} it. Sessions decide from it (see {@link SessionActor}).
 *
 * <p>In a cluster it also remembers the workers that withdrew from the Receptionist while their
 * node stayed a member ({@link GetWithdrawn}): a stopping worker's drain ({@code WorkerDrain}) keeps
 * serving the sessions bound to it, which hold its reference, for up to {@code
 * tandem.worker.shutdown-deadline}, and {@code /metrics} still shows it meanwhile. Death watch
 * forgets it when it stops, or when its node is removed (the Javadoc of {@link akka.actor.typed.Terminated}).
 */
public final class WorkerDirectory {

  /** What the directory can be told. */
  public interface Command {}

  /**
   * Which workers of {@code role} are there now, leaving out {@code exclude}; answered as soon as
   * at least one other is listed, or at once (possibly with none) when {@code now}, or when the
   * role is known to have no worker ({@link Workers#gone}).
   */
  public record GetWorkers(Role role, Set<ActorRef<WorkerProtocol.Command>> exclude, ActorRef<Workers> replyTo,
      boolean now) implements Command {
    public GetWorkers {
      exclude = exclude == null ? Set.of() : Set.copyOf(exclude);
    }

    /** Waits until a worker not in {@code exclude} is listed. */
    public GetWorkers(Role role, Set<ActorRef<WorkerProtocol.Command>> exclude, ActorRef<Workers> replyTo) {
      this(role, exclude, replyTo, false);
    }
  }

  /**
   * The answer to {@link GetWorkers}: the workers, and the load (queued plus running requests) of
   * those whose figures the directory has; a worker missing from {@code load} is not known yet.
   * {@code gone}: none is listed, and none comes back by waiting: on a node outside a cluster, its
   * workers of the role have all stopped (unlike at startup, before they register); in a cluster,
   * no member of the role is on its way ({@link RoleSupply#memberComing}; a node that leaves, as in
   * a rolling restart, is waited for), as once the last member of the role was downed (it crashed,
   * or stalled past the split brain resolver's patience): those waiting are told at its downing,
   * and those who ask later at once (unless {@code now}, answered with none as it stands).
   */
  public record Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers,
      Map<ActorRef<WorkerProtocol.Command>, Integer> load, boolean gone) {
    public Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers,
        Map<ActorRef<WorkerProtocol.Command>, Integer> load) {
      this(role, workers, load, false);
    }

    public Workers(Role role, Set<ActorRef<WorkerProtocol.Command>> workers) {
      this(role, workers, Map.of());
    }
  }

  /** How long a request sent now to {@code worker} can expect to wait in its queue; answered with {@link QueueWait}. */
  public record GetQueueWait(ActorRef<WorkerProtocol.Command> worker, ActorRef<QueueWait> replyTo) implements Command {}

  /**
   * An expected queue wait: the larger of what recent requests waited in the worker's queue
   * ({@link QueueWaited}, smoothed) and the requests ahead (its queue length at its last poll,
   * plus the requests this directory has let sessions send it since) over the rate at which it
   * completes requests (between polls, smoothed); zero when nothing is known yet.
   */
  public record QueueWait(Duration expected) {}

  /**
   * A session's request waited {@code queued} in {@code worker}'s queue (as the worker reported
   * it): what the next requests to that worker can expect, however the queue is ordered.
   */
  public record QueueWaited(ActorRef<WorkerProtocol.Command> worker, Duration queued) implements Command {}

  /** Tell {@code replyTo} the unreachable nodes now and whenever the set changes, until it stops. */
  public record WatchNodes(ActorRef<UnreachableNodes> replyTo) implements Command {}

  /** The nodes (addresses) the failure detector finds unreachable now. */
  public record UnreachableNodes(Set<Address> nodes) {
    public UnreachableNodes {
      nodes = Set.copyOf(nodes);
    }
  }

  /** Which workers withdrew from the Receptionist and still run: answered with {@link Withdrawn}. */
  public record GetWithdrawn(ActorRef<Withdrawn> replyTo) implements Command {}

  /**
   * The workers, with their roles, that withdrew from the Receptionist while their node was a
   * member up, and have not stopped since (nor has their node been removed): draining ones.
   */
  public record Withdrawn(Map<ActorRef<WorkerProtocol.Command>, Role> workers) {
    public Withdrawn {
      workers = Map.copyOf(workers);
    }
  }

  /** A worker that withdrew stopped, or its node was removed. */
  private record WithdrawnStopped(ActorRef<WorkerProtocol.Command> worker) implements Command {}

  /** The failure detector finds {@code node} unreachable. */
  private record NodeUnreachable(Address node) implements Command {}

  /** {@code node} is reachable again. */
  private record NodeReachable(Address node) implements Command {}

  /** A member is up (or weakly up): its workers may be offered. */
  private record NodeUp(UniqueAddress node, Set<String> roles) implements Command {}

  /**
   * A member was removed ({@code downed}: after the split brain resolver or an operator downed it,
   * rather than after it left): its workers go with it, and so does its unreachability.
   */
  private record NodeRemoved(UniqueAddress node, boolean downed, Set<String> roles) implements Command {}

  /** A member was downed (by the split brain resolver or an operator): it will not serve again, and is removed next. */
  private record NodeDowned(UniqueAddress node) implements Command {}

  /** The Receptionist's listing of {@code role}: {@code workers} on reachable nodes, {@code all} listed. */
  private record Listed(Role role, Set<ActorRef<WorkerProtocol.Command>> workers, Set<ActorRef<WorkerProtocol.Command>> all)
      implements Command {}

  private enum Poll implements Command {
    INSTANCE
  }

  private record Polled(ActorRef<WorkerProtocol.Command> worker, WorkerProtocol.WorkerStats stats) implements Command {}

  private record Unwatch(ActorRef<UnreachableNodes> watcher) implements Command {}

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
      ctx.setLoggerName(WorkerDirectory.class);
      // One adapter for both keys: message adapters are per message class.
      ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, l -> {
        Role role = l.isForKey(ServiceKeys.SMALL_WORKERS) ? Role.small : Role.large;
        return new Listed(role, l.getServiceInstances(ServiceKeys.forRole(role)),
            l.getAllServiceInstances(ServiceKeys.forRole(role)));
      });
      for (Role role : Role.values())
        ctx.getSystem().receptionist().tell(Receptionist.subscribe(ServiceKeys.forRole(role), adapter));
      boolean clustered = RoleSupply.get(ctx.getSystem()).clustered();
      if (clustered) {
        Cluster cluster = Cluster.get(ctx.getSystem());
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.ReachabilityEvent.class,
            e -> e instanceof ClusterEvent.UnreachableMember
                ? new NodeUnreachable(e.member().address()) : new NodeReachable(e.member().address())),
            ClusterEvent.ReachabilityEvent.class));
        cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.MemberEvent.class, e -> {
          if (e instanceof ClusterEvent.MemberUp || e instanceof ClusterEvent.MemberWeaklyUp)
            return new NodeUp(e.member().uniqueAddress(), e.member().getRoles());
          if (e instanceof ClusterEvent.MemberDowned d) return new NodeDowned(d.member().uniqueAddress());
          if (e instanceof ClusterEvent.MemberRemoved r)
            return new NodeRemoved(r.member().uniqueAddress(), r.previousStatus().equals(MemberStatus.down()),
                r.member().getRoles());
          return NoAnswer.INSTANCE;
        }), ClusterEvent.MemberEvent.class));
      }
      if (!pollInterval.isZero()) timers.startTimerWithFixedDelay(Poll.INSTANCE, pollInterval);
      State state = new State(ctx, pollInterval);
      state.clustered = clustered;
      return state.behavior();
    }));
  }

  /**
   * A worker's last polled figures, its completion rate (requests per nanosecond, smoothed over
   * polls), and how many requests sessions were told they may send it since that poll.
   */
  private record Figures(WorkerProtocol.WorkerStats stats, double requestsPerNano, int sentSincePoll) {
    Figures sent() {
      return new Figures(stats, requestsPerNano, sentSincePoll + 1);
    }
  }

  /** How much of a new observation an average of queue waits takes in (a few recent requests dominate). */
  private static final double OBSERVED_WEIGHT = 0.2;

  /** Whether this node is on its way out of the cluster: leaving, exiting, downed or removed (Akka's member status). */
  private static boolean selfLeaving(ActorContext<?> ctx) {
    MemberStatus s = Cluster.get(ctx.getSystem()).selfMember().status();
    return !(s.equals(MemberStatus.up()) || s.equals(MemberStatus.weaklyUp()) || s.equals(MemberStatus.joining()));
  }

  private static final class State {
    final ActorContext<Command> ctx;
    final Duration pollInterval;
    final Map<Role, Set<ActorRef<WorkerProtocol.Command>>> listed = new EnumMap<>(Role.class);
    /** Every worker listed per role, those on unreachable nodes included. */
    final Map<Role, Set<ActorRef<WorkerProtocol.Command>>> listedAll = new EnumMap<>(Role.class);
    /** The workers that withdrew while their node was up, until they stop: see {@link GetWithdrawn}. */
    final Map<ActorRef<WorkerProtocol.Command>, Role> withdrawn = new HashMap<>();
    final Map<Role, List<GetWorkers>> waiting = new EnumMap<>(Role.class);
    final Map<ActorRef<WorkerProtocol.Command>, Figures> figures = new HashMap<>();
    final Map<ActorRef<WorkerProtocol.Command>, Double> observedWaitNanos = new HashMap<>();
    final Set<Address> unreachable = new HashSet<>();
    /** When each node of {@link #unreachable} became unreachable ({@link System#nanoTime}). */
    final Map<Address, Long> unreachableSince = new HashMap<>();
    /**
     * In a cluster, the current incarnation of each member that is up. A node restarted on the same
     * address is a new incarnation: its workers are offered only once the old one is removed, since
     * death watch on an address whose old incarnation is being removed may report the new worker
     * terminated.
     */
    final Map<Address, UniqueAddress> up = new HashMap<>();
    boolean clustered;
    /** The roles that have had a worker listed. */
    final Set<Role> everListed = EnumSet.noneOf(Role.class);
    final Set<ActorRef<UnreachableNodes>> watchers = new HashSet<>();
    /**
     * The members this directory was told were downed or removed, until {@code Cluster.state()} no
     * longer lists them: that view is updated by an actor of its own, and may list such a member as
     * up for a moment (see {@link #memberComing}).
     */
    final Set<UniqueAddress> decided = new HashSet<>();
    /** When each member of {@link #decided} that was downed was told so ({@link System#nanoTime}), until its removal. */
    final Map<UniqueAddress, Long> downedAt = new HashMap<>();

    State(ActorContext<Command> ctx, Duration pollInterval) {
      this.ctx = ctx;
      this.pollInterval = pollInterval;
      for (Role r : Role.values()) {
        listed.put(r, Set.of());
        listedAll.put(r, Set.of());
        waiting.put(r, new ArrayList<>());
      }
    }

    Behavior<Command> behavior() {
      return Behaviors.receive(Command.class)
          .onMessage(Listed.class, l -> {
            listed.put(l.role(), Set.copyOf(l.workers()));
            if (!l.workers().isEmpty()) everListed.add(l.role());
            Set<ActorRef<WorkerProtocol.Command>> all = new HashSet<>();
            for (Set<ActorRef<WorkerProtocol.Command>> s : listed.values()) all.addAll(s);
            figures.keySet().retainAll(all);
            observedWaitNanos.keySet().retainAll(all);
            answerWaiting(l.role());
            withdrawals(l.role(), Set.copyOf(l.all()));
            return Behaviors.same();
          })
          .onMessage(GetWithdrawn.class, g -> {
            g.replyTo().tell(new Withdrawn(withdrawn));
            return Behaviors.same();
          })
          .onMessage(WithdrawnStopped.class, w -> {
            withdrawn.remove(w.worker());
            publishWithdrawn();
            return Behaviors.same();
          })
          .onMessage(GetWorkers.class, g -> {
            if (!answer(g)) waiting.get(g.role()).add(g);
            return Behaviors.same();
          })
          .onMessage(GetQueueWait.class, g -> {
            g.replyTo().tell(new QueueWait(queueWait(g.worker())));
            // The session sends unless the wait is too long: count it ahead of the next asker.
            figures.computeIfPresent(g.worker(), (w, f) -> f.sent());
            return Behaviors.same();
          })
          .onMessage(QueueWaited.class, q -> {
            observedWaitNanos.merge(q.worker(), (double) q.queued().toNanos(),
                (old, now) -> old + OBSERVED_WEIGHT * (now - old));
            return Behaviors.same();
          })
          .onMessage(WatchNodes.class, w -> {
            watchers.add(w.replyTo());
            ctx.watchWith(w.replyTo(), new Unwatch(w.replyTo()));
            w.replyTo().tell(new UnreachableNodes(unreachable));
            return Behaviors.same();
          })
          .onMessage(Unwatch.class, u -> {
            watchers.remove(u.watcher());
            return Behaviors.same();
          })
          .onMessage(NodeUnreachable.class, n -> {
            ctx.getLog().debug("node {} unreachable", n.node());
            // One downed while reachable (by its own resolver, a minority of one) turns unreachable as it stops: that is no
            // time it spent unreachable before its downing (tester61h: "downed after -4.17 s unreachable").
            if (downedAt.keySet().stream().noneMatch(u -> u.address().equals(n.node())))
              unreachableSince.putIfAbsent(n.node(), System.nanoTime());
            return reachability(unreachable.add(n.node()));
          })
          .onMessage(NodeReachable.class, n -> {
            // Downed already, as it ran again after a stall: it stays out, its workers are not offered again, and its
            // unreachable time runs to the downing (tester61d: "reachable again ... offered to sessions again" after the
            // resolver had downed it, then "downed after -4.065 s unreachable").
            if (downedAt.keySet().stream().anyMatch(u -> u.address().equals(n.node()))) {
              ctx.getLog().debug("node {} reachable, but downed already", n.node());
              return Behaviors.same();
            }
            ctx.getLog().debug("node {} reachable", n.node());
            Long since = unreachableSince.remove(n.node());
            boolean changed = unreachable.remove(n.node());
            // Akka's WARN said it became unreachable (akka.cluster.Cluster); its INFO that it is back is
            // not logged at Akka's default level here, so the node would look unreachable still.
            if (changed && since != null)
              ctx.getLog().info("node {} is reachable again after {} s: its workers are offered to sessions again", n.node(),
                  Seconds.of(Duration.ofMillis((System.nanoTime() - since) / 1_000_000)));
            return reachability(changed);
          })
          .onMessage(NodeUp.class, n -> {
            // A node without a model role (this orchestrator, another one) has no workers to offer.
            if (n.roles().contains(Role.small.name()) || n.roles().contains(Role.large.name()))
              ctx.getLog().info("node {} (incarnation {}) is up: its workers are offered to sessions once they are listed, when"
                  + " their models have loaded", n.node().address(), n.node().longUid());
            // Another orchestrator's too, as its removal is a WARN: local.sh restart reads whether a node is still a member.
            else if (n.node().equals(Cluster.get(ctx.getSystem()).selfMember().uniqueAddress()))
              ctx.getLog().debug("node {} (incarnation {}) is up, with no worker role", n.node().address(), n.node().longUid());
            else ctx.getLog().info("node {} (incarnation {}) is up, with no worker role", n.node().address(), n.node().longUid());
            up.put(n.node().address(), n.node());
            for (Role r : Role.values()) answerWaiting(r);
            return Behaviors.same();
          })
          .onMessage(NodeRemoved.class, n -> {
            // A node leaving sees every other member removed as it goes: that says nothing of them.
            if (selfLeaving(ctx)) ctx.getLog().debug("node {} (incarnation {}) is no longer seen: this node is leaving the cluster",
                n.node().address(), n.node().longUid());
            else if (n.downed()) {
              // What happened and what to do, for an operator reading the log after a crash (tester50b: Akka's lines, then
              // "was removed", and no word of a restart).
              Long since = unreachableSince.get(n.node().address());
              // Its unreachable time up to the downing, not to the removal, which came later (tester55c: 24 s said of 7).
              long until = downedAt.getOrDefault(n.node(), System.nanoTime());
              List<String> roles = n.roles().stream().filter(r -> !r.startsWith("dc-")).sorted().toList();
              ctx.getLog().warn("node {} (incarnation {}) was removed: downed{} (crashed, stopped or cut off){}; start it again"
                      + " with its command to rejoin", n.node().address(), n.node().longUid(),
                  since == null ? "" : " after " + Seconds.of(Duration.ofMillis((until - since) / 1_000_000))
                      + " s unreachable", roles.isEmpty() ? "" : ", and with it its roles " + roles);
            } else ctx.getLog().info("node {} (incarnation {}) was removed: it left the cluster", n.node().address(),
                n.node().longUid());
            if (!n.downed()) RoleSupply.get(ctx.getSystem()).left(n.roles());
            up.remove(n.node().address(), n.node());
            decided.add(n.node());
            downedAt.remove(n.node());
            unreachableSince.remove(n.node().address());
            Behavior<Command> next = reachability(unreachable.remove(n.node().address()));
            // A node that left (a drain, a rolling restart) is waited for: worker-wait covers its restart.
            if (n.downed()) answerNoneComing();
            return next;
          })
          .onMessage(NodeDowned.class, n -> {
            decided.add(n.node());
            downedAt.put(n.node(), System.nanoTime());
            // Told now, as a request that asks from now on is, not at the removal a second or more later (tester55a).
            answerNoneComing();
            return Behaviors.same();
          })
          .onMessageEquals(Poll.INSTANCE, this::poll)
          .onMessage(Polled.class, p -> {
            if (listed.get(Role.small).contains(p.worker()) || listed.get(Role.large).contains(p.worker()))
              figures.put(p.worker(), figures(figures.get(p.worker()), p.stats()));
            // An empty queue: what earlier requests waited no longer says anything (and with no
            // requests sent, nothing else would ever bring the figure down).
            if (p.stats().queueLength() == 0) observedWaitNanos.remove(p.worker());
            return Behaviors.same();
          })
          .onMessageEquals(NoAnswer.INSTANCE, Behaviors::same)
          .build();
    }

    /**
     * Remembers the workers of {@code role} that left the listing while their node is a member up
     * (or this node), watching each until it stops; forgets those listed again.
     */
    private void withdrawals(Role role, Set<ActorRef<WorkerProtocol.Command>> all) {
      if (!clustered) return;
      for (ActorRef<WorkerProtocol.Command> w : listedAll.get(role)) {
        Address node = w.path().address();
        if (all.contains(w) || !node.hasLocalScope() && !up.containsKey(node)) continue;
        withdrawn.put(w, role);
        ctx.watchWith(w, new WithdrawnStopped(w));
      }
      for (ActorRef<WorkerProtocol.Command> w : all)
        if (withdrawn.remove(w) != null) ctx.unwatch(w);
      listedAll.put(role, all);
      publishWithdrawn();
    }

    /** Tells the node's {@link RoleSupply} which nodes' workers are withdrawn now, for readiness's words. */
    private void publishWithdrawn() {
      Map<Address, Set<Role>> byNode = new HashMap<>();
      Address self = akka.cluster.typed.Cluster.get(ctx.getSystem()).selfMember().address();
      withdrawn.forEach((w, role) -> byNode.computeIfAbsent(w.path().address().hasLocalScope() ? self : w.path().address(),
          a -> EnumSet.noneOf(Role.class)).add(role));
      RoleSupply.get(ctx.getSystem()).withdrawing(byNode);
    }

    /** Tells the watchers when the unreachable set {@code changed}; answers those waiting for a worker. */
    private Behavior<Command> reachability(boolean changed) {
      if (!changed) return Behaviors.same();
      UnreachableNodes now = new UnreachableNodes(unreachable);
      for (ActorRef<UnreachableNodes> w : watchers) w.tell(now);
      // A node that came back may hold the only worker someone is waiting for.
      for (Role r : Role.values()) answerWaiting(r);
      return Behaviors.same();
    }

    private void answerWaiting(Role role) {
      waiting.get(role).removeIf(this::answer);
    }

    private Behavior<Command> poll() {
      for (Set<ActorRef<WorkerProtocol.Command>> workers : listed.values())
        for (ActorRef<WorkerProtocol.Command> w : workers)
          ctx.ask(WorkerProtocol.WorkerStats.class, w, pollInterval, WorkerProtocol.GetStats::new,
              (stats, failure) -> stats == null ? NoAnswer.INSTANCE : new Polled(w, stats));
      return Behaviors.same();
    }

    private static Figures figures(Figures before, WorkerProtocol.WorkerStats now) {
      double rate = before == null ? 0 : before.requestsPerNano();
      if (before != null && now.upNanos() > before.stats().upNanos() && now.requestsDone() > before.stats().requestsDone()) {
        double last = (now.requestsDone() - before.stats().requestsDone()) / (double) (now.upNanos() - before.stats().upNanos());
        // A few requests complete between two polls: smooth, or the estimate jumps with each poll.
        rate = rate == 0 ? last : (rate + last) / 2;
      }
      return new Figures(now, rate, 0);
    }

    private Duration queueWait(ActorRef<WorkerProtocol.Command> worker) {
      Figures f = figures.get(worker);
      int ahead = f == null ? 0 : f.stats().queueLength() + f.sentSincePoll();
      double nanos = ahead == 0 || f.requestsPerNano() <= 0 ? 0 : ahead / f.requestsPerNano();
      return Duration.ofNanos((long) Math.max(nanos, observedWaitNanos.getOrDefault(worker, 0.0)));
    }

    private Set<ActorRef<WorkerProtocol.Command>> usable(Role role, Set<ActorRef<WorkerProtocol.Command>> exclude) {
      Set<ActorRef<WorkerProtocol.Command>> usable = new HashSet<>(listed.get(role));
      usable.removeAll(exclude);
      usable.removeIf(w -> unreachable.contains(w.path().address())
          || clustered && !w.path().address().hasLocalScope() && !up.containsKey(w.path().address()));
      return usable;
    }

    /**
     * Whether a member of {@code role} is on its way ({@link RoleSupply#memberComing}), the members
     * this directory was told were downed or removed left out: Akka's {@code Cluster.state()} may
     * list such a member as it was for a moment after its {@code MemberDowned} or {@code
     * MemberRemoved} reached this actor (in CI a session waiting for the large worker of a node
     * downed while it was unreachable waited out worker-wait when the removal was read before that
     * view had it).
     */
    private boolean memberComing(Role role) {
      Set<UniqueAddress> members = new HashSet<>();
      for (akka.cluster.Member m : Cluster.get(ctx.getSystem()).state().getMembers()) members.add(m.uniqueAddress());
      decided.retainAll(members);
      return RoleSupply.get(ctx.getSystem()).memberComing(ctx.getSystem(), role, decided);
    }

    /**
     * Sessions waiting for a worker of a role may have waited for a node's (unreachable, then
     * downed): with no member of the role left on its way, waiting longer is in vain, and they are
     * answered with none ({@link Workers#gone}).
     */
    private void answerNoneComing() {
      for (Role r : Role.values()) {
        if (waiting.get(r).isEmpty() || memberComing(r)) continue;
        for (GetWorkers g : waiting.get(r)) g.replyTo().tell(new Workers(r, Set.of(), Map.of(), true));
        waiting.get(r).clear();
      }
    }

    private boolean answer(GetWorkers g) {
      Set<ActorRef<WorkerProtocol.Command>> usable = usable(g.role(), g.exclude());
      // In a cluster, none comes back by waiting once no member of the role is on its way: a session that asks after the
      // removal of a downed node (its draft step ran on meanwhile) is answered now, as those already waiting were, not
      // after worker-wait.
      boolean gone = clustered ? usable.isEmpty() && !g.now() && !memberComing(g.role())
          : listed.get(g.role()).isEmpty() && everListed.contains(g.role());
      if (usable.isEmpty() && !g.now() && !gone) return false;
      Map<ActorRef<WorkerProtocol.Command>, Integer> loads = new HashMap<>();
      for (ActorRef<WorkerProtocol.Command> w : usable) {
        Figures f = figures.get(w);
        if (f != null) loads.put(w, f.stats().queueLength() + f.stats().running());
      }
      g.replyTo().tell(new Workers(g.role(), Set.copyOf(usable), Map.copyOf(loads), gone));
      return true;
    }
  }

  private WorkerDirectory() {}
}
