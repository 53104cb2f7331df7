package io.tandem.worker;

import akka.Done;
import akka.actor.Address;
import akka.actor.Cancellable;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.ReceiveBuilder;
import akka.actor.typed.receptionist.Receptionist;
import akka.cluster.ClusterEvent;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import com.typesafe.config.Config;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.text.Seconds;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Command;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.IntSupplier;

/**
 * A worker's graceful stop on a cluster node that is shutting down (SIGTERM, Ctrl-C, {@code local.sh
 * down}): the sessions bound to it finish with it before the node leaves, instead of all losing
 * their step at once. Akka's {@link CoordinatedShutdown} runs it in the phase
 * {@code service-requests-done}, before {@code cluster-leave}, beside the HTTP server's own drain
 * (an orchestrator on the same node).
 *
 * <p>When the drain begins, the worker withdraws from the Receptionist if another worker of its
 * role is listed on another node, so that new sessions bind there, and waits until no session is
 * bound to it (each has sent its {@code Release}, or ended: {@link SessionWatch}); a session in
 * flight that has not used it yet goes to another worker. The role's last worker in the cluster
 * keeps taking new sessions (none could go elsewhere) and waits until, besides, no session in flight
 * on any orchestrator node may need a worker of its role (it asks their {@code Sessions} under
 * {@link ServiceKeys#SESSIONS} every {@link #POLL_INTERVAL}): a speculative session that has not
 * reached its first takeover yet will need the large worker, and must find it. Then it withdraws,
 * and waits until no orchestrator offers it to its sessions any more (the Receptionist's news takes
 * a moment to spread) and the sessions given it meanwhile have finished. Either way the wait
 * ends at {@code tandem.worker.shutdown-deadline}; sessions that still need the worker once the node
 * has left lose it as they would lose a crashed one: their step moves to another worker of the role,
 * or the session ends with a retryable error (or degrades, as configured).
 *
 * <p>Only cluster members drain (a node the split brain resolver downed stops at once: its sessions
 * lost it already, and a node downed or removed while it drains stops draining then); a lone
 * node ({@code generate}, {@code eval}, {@code bench}) stops
 * at once. Like Kubernetes' preStop drain of a serving pod, the deadline bounds the wait; the node's
 * {@code service-requests-done} phase timeout is raised to cover it (the node's start does).
 *
 * <p>A plain helper, not thread-safe: the worker's actor owns it and forwards its messages.
 */
public final class WorkerDrain {

  /** The setting giving the sessions bound to a stopping node's workers time to finish. */
  public static final String DEADLINE_KEY = "tandem.worker.shutdown-deadline";

  /** Message from CoordinatedShutdown's task: begin draining, completing {@code done} when drained. */
  record Begin(CompletableFuture<Done> done) implements Command {}

  /** The Receptionist's listing of the worker's role, asked for when the drain begins. */
  record Peers(Receptionist.Listing listing) implements Command {}

  /** Self-message: time to ask the orchestrators again how many sessions in flight may need the role. */
  enum PollSessions implements Command {
    INSTANCE
  }

  /** The cluster's news of a member, followed while draining: the drain ends when this node is downed or removed. */
  record MemberNews(ClusterEvent.MemberEvent event) implements Command {}

  /** The Receptionist's listing of the orchestrator nodes' sessions. */
  record SessionsListed(Receptionist.Listing listing) implements Command {}

  /**
   * One orchestrator node's answer in round {@code round}: {@code count} sessions, -1 for none in
   * time; {@code offered}: its sessions may still be given this worker.
   */
  record Counted(long round, int count, boolean offered) implements Command {}

  /** How often the last worker of its role asks again. */
  static final Duration POLL_INTERVAL = Duration.ofMillis(250);

  /** Self-message: the shutdown deadline has passed. */
  enum DeadlinePassed implements Command {
    INSTANCE
  }

  /**
   * {@value #DEADLINE_KEY} of {@code config}: how long the sessions bound to a stopping node's
   * workers get to finish.
   *
   * @throws io.tandem.protocol.config.InvalidConfigException naming the key for a negative or
   *     unreadable duration, or one beyond {@link ConfigSection#LONGEST_DELAY}
   */
  public static Duration deadline(Config config) {
    Duration d = ConfigSection.read(config, "tandem.worker", c -> c.getDuration("shutdown-deadline"));
    ConfigSection.notNegative(DEADLINE_KEY, d, "no wait; sessions bound then lose the worker at once");
    if (d.compareTo(ConfigSection.LONGEST_DELAY) > 0)
      throw io.tandem.protocol.config.InvalidConfigException.setting(DEADLINE_KEY, DEADLINE_KEY + " must be at most "
          + ConfigSection.LONGEST_DELAY_SAID + ", got " + d.toSeconds() + "s", null);
    return d;
  }

  /**
   * Why a node stops when it is no longer a member the other nodes' sessions can reach: downed by
   * the split brain resolver, or already out (it left, or never joined). Nothing bound to it can
   * finish then, so it does not drain.
   */
  private static final Set<CoordinatedShutdown.Reason> NO_LONGER_A_MEMBER = Set.of(
      CoordinatedShutdown.clusterDowningReason(), CoordinatedShutdown.clusterLeavingReason(),
      CoordinatedShutdown.clusterJoinUnsuccessfulReason(), CoordinatedShutdown.incompatibleConfigurationDetectedReason());

  private final ActorContext<Command> ctx;
  private final Role role;
  private final Duration deadline;
  private final Cancellable task;
  /** How many sessions are bound to the worker now ({@link SessionWatch#count}). */
  private final IntSupplier bound;
  private final List<CompletableFuture<Done>> waiting = new ArrayList<>();
  private boolean draining;
  private long startedNanos;
  /** Whether the Receptionist said if another node has a worker of the role. */
  private boolean peersKnown;
  private boolean lastOfRole;
  /** Last of its role: the sessions in flight on the orchestrators that may need the role; -1 unknown. */
  private int inFlight = -1;
  private long round;
  private int roundPending;
  private int roundSum;
  private boolean roundUnknown;
  private boolean roundOffered;
  /** The last of its role withdrew once none needed it: the round then, 0 before. */
  private long withdrawnInRound;
  /** Whether the last round (started after the withdrawal) found the worker offered nowhere. */
  private boolean offeredNowhere;

  private WorkerDrain(ActorContext<Command> ctx, Role role, Duration deadline, Cancellable task, IntSupplier bound) {
    this.ctx = ctx;
    this.role = role;
    this.deadline = deadline;
    this.task = task;
    this.bound = bound;
  }

  /**
   * Whether the node is stopping and the worker draining: from the drain's start, whether it withdrew
   * from the Receptionist (another worker of the role is up) or serves on as the last of its role.
   */
  boolean draining() {
    return draining;
  }

  /**
   * The drain of {@code ctx}'s worker of {@code role}, registered with the node's CoordinatedShutdown
   * when the node is a cluster member; null on a lone node (nothing to drain for: its sessions are
   * its own and stop with it). {@code bound} counts the sessions bound to the worker now.
   */
  static WorkerDrain register(ActorContext<Command> ctx, Role role, IntSupplier bound) {
    Config config = ctx.getSystem().settings().config();
    if (!"cluster".equals(config.getString("akka.actor.provider"))) return null;
    ActorRef<Command> self = ctx.getSelf();
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(ctx.getSystem());
    Cancellable task = shutdown.addCancellableTask(
        CoordinatedShutdown.PhaseServiceRequestsDone(), "tandem-drain-" + self.path().name(), () -> {
          if (shutdown.getShutdownReason().filter(NO_LONGER_A_MEMBER::contains).isPresent())
            return CompletableFuture.completedFuture(Done.getInstance());
          CompletableFuture<Done> done = new CompletableFuture<>();
          self.tell(new Begin(done));
          return done;
        });
    return new WorkerDrain(ctx, role, deadline(config), task, bound);
  }

  /** {@code receive} with the drain's own messages handled by {@code drain}; unchanged when it is null. */
  static ReceiveBuilder<Command> handledBy(ReceiveBuilder<Command> receive, WorkerDrain drain) {
    if (drain == null) return receive;
    return receive
        .onMessage(Begin.class, b -> drain.begin(b))
        .onMessage(Peers.class, p -> drain.peers(p))
        .onMessageEquals(PollSessions.INSTANCE, () -> drain.poll())
        .onMessage(SessionsListed.class, l -> drain.ask(l))
        .onMessage(Counted.class, c -> drain.counted(c))
        .onMessageEquals(DeadlinePassed.INSTANCE, () -> drain.deadlinePassed())
        .onMessage(MemberNews.class, n -> drain.memberNews(n));
  }

  private Behavior<Command> begin(Begin b) {
    waiting.add(b.done());
    if (draining) return Behaviors.same();
    draining = true;
    startedNanos = System.nanoTime();
    ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, Peers::new);
    ctx.getSystem().receptionist().tell(Receptionist.find(ServiceKeys.forRole(role), adapter));
    ctx.getLog().info("{} worker {}: the node is stopping; draining, for up to {} s ({}): {} bound to it", role, name(),
        Seconds.of(deadline), DEADLINE_KEY, Plural.count(bound.getAsInt(), "session"));
    ctx.scheduleOnce(deadline, ctx.getSelf(), DeadlinePassed.INSTANCE);
    // Downed while draining (a partition the split brain resolver settled against this side, a node
    // SIGSTOPped mid-drain), the node can serve nobody: the other nodes' sessions lost this worker
    // when it was downed, and waiting out the deadline only delays the node's exit (tester44c: 35 s).
    Cluster cluster = Cluster.get(ctx.getSystem());
    if (noLongerServing(cluster.selfMember().status())) return downed(cluster.selfMember().status());
    cluster.subscriptions().tell(Subscribe.create(ctx.messageAdapter(ClusterEvent.MemberEvent.class, MemberNews::new),
        ClusterEvent.MemberEvent.class));
    return Behaviors.same();
  }

  private static boolean noLongerServing(MemberStatus status) {
    return status == MemberStatus.down() || status == MemberStatus.removed();
  }

  private Behavior<Command> memberNews(MemberNews n) {
    Cluster cluster = Cluster.get(ctx.getSystem());
    if (waiting.isEmpty() || !n.event().member().uniqueAddress().equals(cluster.selfMember().uniqueAddress()))
      return Behaviors.same();
    if (n.event() instanceof ClusterEvent.MemberDowned || n.event() instanceof ClusterEvent.MemberRemoved)
      return downed(n.event().member().status());
    return Behaviors.same();
  }

  /** The node is out of the cluster mid-drain: nothing bound to the worker can finish with it now. */
  private Behavior<Command> downed(MemberStatus status) {
    if (waiting.isEmpty()) return Behaviors.same();
    ctx.getLog().warn("{} worker {}: the node was {} by the cluster while draining, with {} bound to it; those sessions lost"
        + " this worker already (their step moves to another {} worker, or the request ends with a retryable error), so the"
        + " node stops now instead of waiting for them", role, name(), status == MemberStatus.down() ? "downed" : "removed",
        Plural.count(bound.getAsInt(), "session"), role);
    withdraw();
    complete();
    return Behaviors.same();
  }

  /**
   * Withdraws the worker from the Receptionist when {@code p} lists another worker of the role on
   * another node (reachable ones only: {@link Receptionist.Listing#getServiceInstances}); else it is
   * the last of its role, and waits for the sessions in flight on the orchestrators too.
   */
  private Behavior<Command> peers(Peers p) {
    if (peersKnown) return Behaviors.same();
    peersKnown = true;
    Address here = ctx.getSystem().address();
    long elsewhere = p.listing().getServiceInstances(ServiceKeys.forRole(role)).stream()
        .map(r -> r.path().address())
        .filter(a -> a.hasGlobalScope() && !a.equals(here))
        .count();
    if (elsewhere > 0) {
      withdraw();
      ctx.getLog().info("{} worker {}: withdrawn; new sessions go to the {} of other nodes", role, name(),
          Plural.count((int) elsewhere, role + " worker"));
      check();
      return Behaviors.same();
    }
    lastOfRole = true;
    ctx.getLog().info("{} worker {}: no other {} worker is in the cluster: it takes new sessions, and stops once no session in"
        + " flight on the orchestrators may need a {} worker", role, name(), role, role);
    return poll();
  }

  /** Last of its role: asks the orchestrator nodes' sessions how many in flight may need it. */
  private Behavior<Command> poll() {
    if (waiting.isEmpty()) return Behaviors.same();
    ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, SessionsListed::new);
    ctx.getSystem().receptionist().tell(Receptionist.find(ServiceKeys.SESSIONS, adapter));
    return Behaviors.same();
  }

  private Behavior<Command> ask(SessionsListed l) {
    if (waiting.isEmpty()) return Behaviors.same();
    Set<ActorRef<WorkerProtocol.CountSessions>> nodes = l.listing().getServiceInstances(ServiceKeys.SESSIONS);
    long r = ++round;
    roundPending = nodes.size();
    roundSum = 0;
    roundUnknown = false;
    roundOffered = false;
    if (nodes.isEmpty()) return roundDone();
    for (ActorRef<WorkerProtocol.CountSessions> n : nodes)
      ctx.ask(WorkerProtocol.SessionsInFlight.class, n, Duration.ofSeconds(1),
          to -> new WorkerProtocol.CountSessions(role, ctx.getSelf(), to),
          (answer, error) -> answer == null ? new Counted(r, -1, true) : new Counted(r, answer.count(), answer.offered()));
    return Behaviors.same();
  }

  private Behavior<Command> counted(Counted c) {
    if (c.round() != round || roundPending == 0) return Behaviors.same();
    if (c.count() < 0) roundUnknown = true;
    else roundSum += c.count();
    roundOffered |= c.offered();
    if (--roundPending > 0) return Behaviors.same();
    return roundDone();
  }

  private Behavior<Command> roundDone() {
    inFlight = roundUnknown ? -1 : roundSum;
    offeredNowhere = withdrawnInRound > 0 && round > withdrawnInRound && !roundUnknown && !roundOffered;
    check();
    if (!waiting.isEmpty()) ctx.scheduleOnce(POLL_INTERVAL, ctx.getSelf(), PollSessions.INSTANCE);
    return Behaviors.same();
  }

  /**
   * Completes the drain once no session is bound and, for the last worker of its role, none in
   * flight on the orchestrators may need the role; a no-op before it begins. The last worker then
   * withdraws, and completes once the orchestrators no longer offer it to their sessions (those
   * that were given it meanwhile are bound to it, and waited for): a session admitted as it leaves
   * waits for another worker of the role instead of losing this one mid-step.
   */
  void check() {
    if (!draining || waiting.isEmpty() || !peersKnown || bound.getAsInt() > 0) return;
    if (lastOfRole && withdrawnInRound == 0) {
      if (inFlight != 0) return;
      withdraw();
      withdrawnInRound = round;
      return;
    }
    if (lastOfRole && !offeredNowhere) return;
    ctx.getLog().info("{} worker {}: drained in {} s: no session is bound to it{}", role, name(),
        Seconds.of(Duration.ofMillis((System.nanoTime() - startedNanos) / 1_000_000)),
        lastOfRole ? ", none in flight needed a " + role + " worker; withdrawn, and no orchestrator offers it any more"
            + " (sessions that need one from now on wait up to tandem.session.worker-wait for another)" : "");
    complete();
  }

  /** The deadline passed: the node goes on stopping, whatever is still running. */
  private Behavior<Command> deadlinePassed() {
    if (waiting.isEmpty()) return Behaviors.same();
    int sessions = bound.getAsInt();
    withdraw();
    String running = lastOfRole && withdrawnInRound == 0 && inFlight > 0 ? Plural.count(inFlight, "session") + " in flight that may need a " + role
        + " worker (" + sessions + " bound to it)" : Plural.count(sessions, "session") + " bound to it";
    ctx.getLog().warn("{} worker {}: {} at the shutdown deadline ({} s); the node leaves now, and those still running once it"
        + " has left lose this worker: the step moves to another {} worker, or the request ends with a retryable error (raise {}"
        + " to wait longer)", role, name(), running, Seconds.of(deadline), role, DEADLINE_KEY);
    complete();
    return Behaviors.same();
  }

  /** The worker stopped: nothing left to drain, and the shutdown task must not wait for it. */
  void stopped() {
    task.cancel();
    complete();
  }

  private void withdraw() {
    ctx.getSystem().receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(role), ctx.getSelf()));
  }

  private void complete() {
    for (CompletableFuture<Done> f : waiting) f.complete(Done.getInstance());
    waiting.clear();
  }

  private String name() {
    return ctx.getSelf().path().name();
  }
}
