package io.tandem.orchestrator.session;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import io.tandem.protocol.text.Seconds;
import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Whether this node has just run again after a pause long enough for the other nodes to have
 * downed it: stopped (SIGSTOP) or frozen (a long GC pause) for longer than their failure detector
 * and split brain resolver take ({@code akka.cluster.failure-detector.acceptable-heartbeat-pause},
 * two heartbeats, {@code akka.cluster.split-brain-resolver.stable-after}). Such a node learns that
 * it was downed only seconds later (its own resolver, or the others' refusal of it), and meanwhile
 * its view of the cluster looked whole: it said ready, took requests, and failed them 11 s later
 * (tester47a). Read by {@link NodeStanding#outOfTouch} until the node has been running again for
 * {@code 2 x stable-after + acceptable-heartbeat-pause}, by when a downed node knows it.
 *
 * <p>A tick every 100 ms reads the monotonic clock ({@link System#nanoTime}, which runs on while
 * the process is stopped): a gap past the limit is a pause. An Akka extension of the node's actor
 * system, ticking on its scheduler from its first use on a cluster member.
 */
public final class PauseWatch implements Extension {

  private static final ExtensionId<PauseWatch> ID = new ExtensionId<>() {
    @Override
    public PauseWatch createExtension(ActorSystem<?> system) {
      var c = system.settings().config();
      Duration pause = c.getDuration("akka.cluster.failure-detector.acceptable-heartbeat-pause");
      Duration stable = c.getDuration("akka.cluster.split-brain-resolver.stable-after");
      Duration heartbeat = c.getDuration("akka.cluster.failure-detector.heartbeat-interval");
      PauseWatch watch = new PauseWatch(pause.plus(heartbeat.multipliedBy(2)).plus(stable), stable.multipliedBy(2).plus(pause),
          System::nanoTime);
      if (RoleSupply.get(system).clustered())
        system.scheduler().scheduleAtFixedRate(Duration.ZERO, Duration.ofMillis(100), watch::tick, system.executionContext());
      return watch;
    }
  };

  private final long limitNanos;
  private final long windowNanos;
  private final Duration limit;
  private final LongSupplier clock;
  private final java.util.List<Runnable> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
  private long last;
  private volatile long resumedAt;
  private volatile long pausedNanos;

  /**
   * A watch that counts a gap between ticks above {@code limit} as a pause, said for {@code window}
   * after it ended, by {@code clock} (nanoseconds).
   */
  PauseWatch(Duration limit, Duration window, LongSupplier clock) {
    this.limit = limit;
    this.limitNanos = limit.toNanos();
    this.windowNanos = window.toNanos();
    this.clock = clock;
  }

  /** This node's watch, ticking from now on a cluster member. */
  public static PauseWatch get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** Runs {@code listener} at each pause past the limit, as the node runs again (on the scheduler's thread: tell an actor). */
  public void onPause(Runnable listener) {
    listeners.add(listener);
  }

  /** Reads the clock: a gap since the last tick above the limit is a pause that ended now. */
  void tick() {
    boolean paused;
    synchronized (this) {
      long now = clock.getAsLong();
      paused = last != 0 && now - last > limitNanos;
      if (paused) {
        pausedNanos = now - last;
        resumedAt = now;
      }
      last = now;
    }
    if (paused) listeners.forEach(Runnable::run);
  }

  /**
   * Why this node has most likely been downed, in words, while it is within the window after a
   * pause past the limit; null otherwise.
   */
  String standing() {
    long paused = pausedNanos;
    if (paused == 0 || clock.getAsLong() - resumedAt > windowNanos) return null;
    // To a tenth of a second: a gap is read to the nanosecond.
    return "this node did not run for " + Seconds.of(Duration.ofMillis(Math.round(paused / 1e8) * 100)) + " s (stopped, as by SIGSTOP, or a long GC"
        + " pause), longer than the " + Seconds.of(limit) + " s after which the other nodes down a node they cannot reach"
        + " (akka.cluster.failure-detector.acceptable-heartbeat-pause, two heartbeats, and"
        + " akka.cluster.split-brain-resolver.stable-after): it has most likely been downed, and leaves the cluster once it"
        + " learns so";
  }
}
