package io.tandem.worker;

import akka.Done;
import akka.actor.Address;
import akka.actor.Cancellable;
import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.ReceiveBuilder;
import akka.actor.typed.receptionist.Receptionist;
import akka.actor.typed.receptionist.ServiceKey;
import com.typesafe.config.Config;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.text.Seconds;
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
 * role is listed on another node, so that new sessions bind there; the role's last worker in the
 * cluster keeps taking them (none could go elsewhere). Either way it serves every request it is sent
 * (a session's next step after a takeover, and any session the listing had not yet told otherwise)
 * until no session is bound to it (each has sent its {@code Release}, or ended: {@link
 * SessionWatch}), or until {@code tandem.worker.shutdown-deadline}. Sessions still bound then lose the
 * worker when the node leaves, as they would lose a crashed one: their step moves to another worker
 * of the role, or the session ends with a retryable error (or degrades, as configured).
 *
 * <p>Only cluster members drain (a node the split brain resolver downed stops at once: its sessions
 * lost it already); a lone node ({@code generate}, {@code eval}, {@code bench}) stops
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
  private final List<CompletableFuture<Done>> waiting = new ArrayList<>();
  private boolean draining;
  private boolean waited;
  private long startedNanos;

  private WorkerDrain(ActorContext<Command> ctx, Role role, Duration deadline, Cancellable task) {
    this.ctx = ctx;
    this.role = role;
    this.deadline = deadline;
    this.task = task;
  }

  /**
   * The drain of {@code ctx}'s worker of {@code role}, registered with the node's CoordinatedShutdown
   * when the node is a cluster member; null on a lone node (nothing to drain for: its sessions are
   * its own and stop with it).
   */
  static WorkerDrain register(ActorContext<Command> ctx, Role role) {
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
    return new WorkerDrain(ctx, role, deadline(config), task);
  }

  /**
   * {@code receive} with the drain's own messages handled by {@code drain} ({@code sessions}: how
   * many sessions are bound to the worker now); unchanged when {@code drain} is null.
   */
  static ReceiveBuilder<Command> handledBy(ReceiveBuilder<Command> receive, WorkerDrain drain, IntSupplier sessions) {
    if (drain == null) return receive;
    return receive
        .onMessage(Begin.class, b -> {
          drain.begin(b, sessions.getAsInt());
          return Behaviors.same();
        })
        .onMessage(Peers.class, p -> {
          drain.peers(p);
          return Behaviors.same();
        })
        .onMessageEquals(DeadlinePassed.INSTANCE, () -> {
          drain.deadlinePassed(sessions.getAsInt());
          return Behaviors.same();
        });
  }

  /** Begins the drain ({@code sessions}: how many are bound now); idle, it is over at once. */
  void begin(Begin b, int sessions) {
    waiting.add(b.done());
    if (draining) return;
    draining = true;
    startedNanos = System.nanoTime();
    ServiceKey<Command> key = ServiceKeys.forRole(role);
    ActorRef<Receptionist.Listing> adapter = ctx.messageAdapter(Receptionist.Listing.class, Peers::new);
    ctx.getSystem().receptionist().tell(Receptionist.find(key, adapter));
    if (sessions > 0) {
      waited = true;
      ctx.getLog().info("{} worker {}: the node is stopping; the {} bound to it get up to {} s to finish ({})",
          role, name(), Plural.count(sessions, "session"), Seconds.of(deadline), DEADLINE_KEY);
      ctx.scheduleOnce(deadline, ctx.getSelf(), DeadlinePassed.INSTANCE);
    }
    check(sessions);
  }

  /**
   * Withdraws the worker from the Receptionist when {@code p} lists another worker of the role on
   * another node (reachable ones only: {@link Receptionist.Listing#getServiceInstances}).
   */
  void peers(Peers p) {
    Address here = ctx.getSystem().address();
    ServiceKey<Command> key = ServiceKeys.forRole(role);
    long elsewhere = p.listing().getServiceInstances(key).stream()
        .map(r -> r.path().address())
        .filter(a -> a.hasGlobalScope() && !a.equals(here))
        .count();
    if (elsewhere == 0) {
      if (!waiting.isEmpty())
        ctx.getLog().info("{} worker {}: no other {} worker is in the cluster; it takes new sessions until it stops", role, name(), role);
      return;
    }
    ctx.getSystem().receptionist().tell(Receptionist.deregister(key, ctx.getSelf()));
    ctx.getLog().info("{} worker {}: withdrawn; new sessions go to the {} of other nodes", role, name(),
        Plural.count((int) elsewhere, role + " worker"));
  }

  /** Completes the drain once no session is bound ({@code sessions}); a no-op before it begins. */
  void check(int sessions) {
    if (!draining || waiting.isEmpty() || sessions > 0) return;
    if (waited)
      ctx.getLog().info("{} worker {}: drained; every session bound to it has finished ({} s)", role, name(),
          Seconds.of(Duration.ofMillis((System.nanoTime() - startedNanos) / 1_000_000)));
    complete();
  }

  /** The deadline passed with {@code sessions} still bound: the node goes on stopping. */
  void deadlinePassed(int sessions) {
    if (waiting.isEmpty()) return;
    ctx.getLog().warn("{} worker {}: {} still bound at the shutdown deadline ({} s); each loses this worker as the node leaves, "
        + "and its step moves to another {} worker or the request ends with a retryable error (raise {} to wait longer)",
        role, name(), Plural.count(sessions, "session"), Seconds.of(deadline), role, DEADLINE_KEY);
    complete();
  }

  /** The worker stopped: nothing left to drain, and the shutdown task must not wait for it. */
  void stopped() {
    task.cancel();
    complete();
  }

  private void complete() {
    for (CompletableFuture<Done> f : waiting) f.complete(Done.getInstance());
    waiting.clear();
  }

  private String name() {
    return ctx.getSelf().path().name();
  }
}
