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
 * {@code 3 x stable-after + acceptable-heartbeat-pause}, by when a downed node knows it (9-20 s after
 * it ran again, measured on a loaded 2-core machine; the window was 2 x stable-after plus the pause,
 * 16 s, and a node said ready for seconds before it learnt it was downed: tester56a). A downed
 * node's exit line asks it whether a pause was why ({@link #pauseWithin}).
 *
 * <p>A tick every 10 ms reads the monotonic clock ({@link System#nanoTime}, which runs on while
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
      boolean clustered = RoleSupply.get(system).clustered();
      PauseWatch watch = new PauseWatch(pause.plus(heartbeat.multipliedBy(2)).plus(stable), stable.multipliedBy(3).plus(pause),
          System::nanoTime, () -> clustered && othersIn(akka.cluster.typed.Cluster.get(system)), pause);
      if (clustered)
        // Every 10 ms (Akka's scheduler tick), so that the running between two stops is measured finely (RAN_BETWEEN_NANOS).
        system.scheduler().scheduleAtFixedRate(Duration.ZERO, Duration.ofMillis(10), watch::tick, system.executionContext());
      return watch;
    }
  };

  /** Whether the cluster has a member besides this node that is not down: one that could down it. */
  private static boolean othersIn(akka.cluster.typed.Cluster cluster) {
    for (akka.cluster.Member m : cluster.state().getMembers())
      if (!m.address().equals(cluster.selfMember().address()) && !m.status().equals(akka.cluster.MemberStatus.down())
          && !m.status().equals(akka.cluster.MemberStatus.removed())) return true;
    return false;
  }

  private final long limitNanos;
  /** Gaps shorter than this are never joined to others ({@link #withPauseBefore}). */
  private final long joinedNanos;
  /** Whether another member could have downed this node: a node alone in its cluster is downed by no one (tester57a). */
  private final java.util.function.BooleanSupplier othersCouldDown;
  private final long windowNanos;
  private final Duration limit;
  private final LongSupplier clock;
  private final java.util.List<Runnable> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
  private long last;
  private volatile long resumedAt;
  private volatile long pausedNanos;
  /**
   * The latest gaps between ticks of a second or more, past the limit or not: {length, end} in
   * nanoseconds, the oldest first, at most {@link #GAPS_KEPT}.
   */
  private final java.util.ArrayDeque<long[]> gaps = new java.util.ArrayDeque<>();
  private static final int GAPS_KEPT = 32;

  /**
   * A watch that counts a gap between ticks above {@code limit} as a pause, said for {@code window}
   * after it ended, by {@code clock} (nanoseconds).
   */
  PauseWatch(Duration limit, Duration window, LongSupplier clock) {
    this(limit, window, clock, () -> true);
  }

  /**
   * As {@link #PauseWatch(Duration, Duration, LongSupplier)}, counting a pause only where {@code
   * othersCouldDown} says, as the node runs again, that another member could have downed it.
   */
  PauseWatch(Duration limit, Duration window, LongSupplier clock, java.util.function.BooleanSupplier othersCouldDown) {
    this(limit, window, clock, othersCouldDown, Duration.ofSeconds(2));
  }

  /**
   * As {@link #PauseWatch(Duration, Duration, LongSupplier, java.util.function.BooleanSupplier)},
   * joining only gaps of {@code joined} or more (the failure detector's acceptable-heartbeat-pause):
   * shorter stops do not take a node out of its peers' reach, however many come in a row.
   */
  PauseWatch(Duration limit, Duration window, LongSupplier clock, java.util.function.BooleanSupplier othersCouldDown,
      Duration joined) {
    this.joinedNanos = joined.toNanos();
    this.othersCouldDown = othersCouldDown;
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

  /**
   * Reads the clock: a gap since the last tick above the limit is a pause that ended now. Two gaps
   * with less than {@link #RAN_BETWEEN_NANOS} of running between them are one pause, their lengths
   * added: back-to-back GC pauses stop a node as one long pause does (tester61d: two 6 s stops 5 ms
   * apart were told as a 6 s stall while another node was downed, and the orchestrator said it was
   * ready in between).
   */
  void tick() {
    boolean paused;
    synchronized (this) {
      long now = clock.getAsLong();
      long gap = last == 0 ? 0 : withPauseBefore(now - last, last);
      paused = gap > limitNanos && othersCouldDown.getAsBoolean();
      if (last != 0 && now - last >= 1_000_000_000L) {
        if (!gaps.isEmpty() && gap > now - last) gaps.removeLast();
        if (gaps.size() == GAPS_KEPT) gaps.removeFirst();
        gaps.addLast(new long[] {gap, now});
      }
      if (paused) {
        pausedNanos = gap;
        resumedAt = now;
      }
      last = now;
    }
    if (paused) listeners.forEach(Runnable::run);
  }

  /**
   * Less running than this between two gaps makes them one pause: a node that ran for less did not
   * get back within its peers' reach for long enough, and they downed it as if it had been stopped
   * throughout (two 6 s stops of an orchestrator 0-47 ms apart: downed in 11 of 11 runs, tester62d,
   * tester62f and here). One that ran for longer mostly answered its peers' heartbeats, they found it
   * reachable again, their split brain resolver's stable-after began anew, and nobody downed it
   * (78-700 ms: downed in 1 of 13 runs, at 289 ms, where one worker had had no heartbeat answered
   * between the stops: a race no threshold settles, tester62f). Joined at up to a second apart, such stops had ended an
   * orchestrator's requests in flight and refused new ones for 23 s though nobody downed it
   * (tester62a); at 20 ms, a node downed after 45 ms of running said it was ready for 9 s
   * (tester62d). Since a node's own failure detector no longer blames its peers for its stop
   * ({@code PauseAwareFailureDetector}), the running between is what decides.
   */
  static final long RAN_BETWEEN_NANOS = 100_000_000L;

  /**
   * The time not run of a gap of {@code length} that began at {@code start}, with the last gap kept
   * added to it when that one ended less than {@link #RAN_BETWEEN_NANOS} before (one pause, briefly
   * broken; the running between not counted).
   */
  private long withPauseBefore(long length, long start) {
    long[] before = gaps.peekLast();
    // Each of them long enough to take the node out of its peers' reach (acceptable-heartbeat-pause): a node that
    // stutters in stops of 1.5 s is never unreachable, and eight of them in 20 s made an orchestrator refuse requests
    // and end streams as if downed (tester61j).
    if (length < joinedNanos || before == null || before[0] < joinedNanos || start - before[1] >= RAN_BETWEEN_NANOS)
      return length;
    return length + before[0];
  }

  /**
   * How long this node did not run in its longest pause (a gap of a second or more between ticks,
   * or one ending now) of at least {@code atLeast} that ended no more than {@code within} ago; null
   * when there is none. The longest, not the latest: a 1.2 s hiccup after a 6 s stall does not hide
   * the stall.
   */
  public synchronized Duration pauseWithin(Duration within, Duration atLeast) {
    long now = clock.getAsLong();
    long longest = 0;
    if (last != 0 && now - last >= 1_000_000_000L) longest = withPauseBefore(now - last, last);
    for (long[] gap : gaps)
      if (now - gap[1] <= within.toNanos()) longest = Math.max(longest, gap[0]);
    return longest == 0 || longest < atLeast.toNanos() ? null : Duration.ofNanos(longest);
  }

  /**
   * The last pause past the limit, {length, end} in nanoseconds ({0, 0} when none): one the tick has
   * seen, or one ending now that it has not seen yet. A request taken by a node that runs again
   * before the next tick (the client's bytes waited in the socket through the pause) was served as
   * if nothing had happened, and waited 8 s for the downing (tester56a).
   */
  private synchronized long[] lastPause() {
    long now = clock.getAsLong();
    long gap = last == 0 ? 0 : withPauseBefore(now - last, last);
    if (gap > limitNanos && othersCouldDown.getAsBoolean()) return new long[] {gap, now};
    return new long[] {pausedNanos, resumedAt};
  }

  /**
   * Why this node has most likely been downed, in words, while it is within the window after a
   * pause past the limit (or as one ends, before the tick that sees it); null otherwise.
   */
  String standing() {
    long[] last = lastPause();
    long paused = last[0];
    if (paused == 0 || clock.getAsLong() - last[1] > windowNanos) return null;
    // To a tenth of a second: a gap is read to the nanosecond.
    return "this node did not run for " + Seconds.of(Duration.ofMillis(Math.round(paused / 1e8) * 100)) + " s (stopped, as by SIGSTOP, or a long GC"
        + " pause), longer than the " + Seconds.of(limit) + " s after which the other nodes down a node they cannot reach"
        + " (akka.cluster.failure-detector.acceptable-heartbeat-pause, two heartbeats, and"
        + " akka.cluster.split-brain-resolver.stable-after): it has most likely been downed, and leaves the cluster once it"
        + " learns so";
  }
}
