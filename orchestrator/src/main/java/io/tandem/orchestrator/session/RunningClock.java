package io.tandem.orchestrator.session;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * The time this process has run, in nanoseconds: {@link System#nanoTime} (which runs on while the
 * process is stopped) less the stretches in which the process did not run (a SIGSTOP, a frozen VM,
 * a long stop-the-world GC pause). A thread beats every {@value #BEAT_MILLIS} ms; a gap between two
 * beats longer than {@link #ALLOWED_NANOS} did not run beyond that allowance, and is left out. A read
 * that comes before the beating thread has run again after such a gap (the process has just been
 * continued, and its other threads run first) leaves out the gap so far alike, so that no reader ever
 * sees the stop.
 *
 * <p>Why: Akka's failure detector judges a peer by the time since its last heartbeat reply, and
 * a process that was itself stopped finds every peer silent for the length of its own stop. Waking,
 * it marked them all unreachable (Akka logs "Marking node as UNREACHABLE"), gossiped that, and with
 * the peers' record of it unreachable the cluster's reachability held a cycle, which Akka's split
 * brain resolver reads as indirectly connected nodes and downs them all (tester61k: an orchestrator
 * stopped 6 s, run 300 ms, stopped 6 s took its two healthy workers down with it). Read through this
 * clock (ops' {@code PauseAwareFailureDetector}), a node's own stop is no evidence against its peers.
 * A prompt count's deadline is read on it too ({@code WorkerView}), so that an answer that came
 * during a stop, read once the process runs again, is taken rather than beaten by the deadline firing
 * beside it.
 *
 * <p>Thread-safe. The clock never goes back.
 */
public final class RunningClock {

  /** How often the beating thread reads the time. */
  public static final long BEAT_MILLIS = 10;

  /**
   * The longest gap between two beats counted as run in full: a loaded two-core machine delays a
   * thread's wake-up by tens of milliseconds, sometimes hundreds, while the process runs; only the
   * time past this is left out. Well under Tandem's acceptable-heartbeat-pause (2 s), so that a
   * stop past that pause leaves at most this much of itself in the failure detector's reading.
   */
  public static final long ALLOWED_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  /** The last beat, and the time not run before it, both in the raw clock's nanoseconds; replaced whole. */
  private record State(long lastBeat, long notRun) {}

  private final LongSupplier raw;
  private volatile State state;
  private final AtomicLong latest = new AtomicLong(Long.MIN_VALUE);

  /**
   * A clock over {@code raw} (nanoseconds) that beats only when {@link #beat} is called: for tests;
   * a node reads {@link #process()}.
   */
  public RunningClock(LongSupplier raw) {
    this.raw = raw;
    this.state = new State(raw.getAsLong(), 0);
  }

  private static final class Process {
    static final RunningClock CLOCK = startBeating(new RunningClock(System::nanoTime));
  }

  /** This process's clock, its beating thread (a daemon) started on first use. */
  public static RunningClock process() {
    return Process.CLOCK;
  }

  private static RunningClock startBeating(RunningClock clock) {
    Thread beating = new Thread(() -> {
      while (true) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(BEAT_MILLIS));
        Thread.interrupted(); // an interrupt would make every park return at once
        clock.beat();
      }
    }, "tandem-running-clock");
    beating.setDaemon(true);
    beating.start();
    return clock;
  }

  /** Reads the raw clock: the time since the last beat past {@link #ALLOWED_NANOS} was not run. */
  public void beat() {
    synchronized (this) {
      State s = state;
      long now = raw.getAsLong();
      state = new State(now, s.notRun + Math.max(0, now - s.lastBeat - ALLOWED_NANOS));
    }
  }

  /** The time run, in nanoseconds from an arbitrary origin (as {@link System#nanoTime}). */
  public long nanos() {
    State s = state; // before the raw clock: a beat in between then only makes the gap seem longer
    long now = raw.getAsLong();
    long run = now - s.notRun - Math.max(0, now - s.lastBeat - ALLOWED_NANOS);
    return latest.accumulateAndGet(run, Math::max);
  }

  /** The time not run so far, in nanoseconds, the stretch since the last beat included. */
  public long notRunNanos() {
    State s = state;
    long now = raw.getAsLong();
    return s.notRun + Math.max(0, now - s.lastBeat - ALLOWED_NANOS);
  }
}
