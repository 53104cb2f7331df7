package io.tandem.orchestrator.http;

import akka.actor.typed.ActorSystem;
import java.time.Duration;

/**
 * How long this process has been stopped: a JVM frozen by a long GC pause, SIGSTOP or a starved
 * CPU runs no timer, and when it runs again every deadline that passed meanwhile fires at once,
 * beside the answers that came in time but could not be read. A tick every {@link #TICK} marks
 * the time; a gap between two marks over {@link #PAUSE} counts, less one tick, as paused. A
 * deadline measured with {@link #pausedNanos} is one of time this process ran (as Akka's failure
 * detector reads heartbeats, not the clock, to tell a pause from a dead peer).
 */
final class PauseClock {
  static final Duration TICK = Duration.ofMillis(100);
  static final Duration PAUSE = Duration.ofMillis(500);
  private long lastMark = System.nanoTime();
  private long paused;

  /** A clock ticking on {@code system}'s scheduler for as long as the system runs. */
  PauseClock(ActorSystem<?> system) {
    system.scheduler().scheduleAtFixedRate(TICK, TICK, this::mark, system.executionContext());
  }

  /** Nanoseconds this process has been paused since it started, up to now. */
  synchronized long pausedNanos() {
    mark();
    return paused;
  }

  private synchronized void mark() {
    long now = System.nanoTime();
    long gap = now - lastMark;
    if (gap > PAUSE.toNanos()) paused += gap - TICK.toNanos();
    lastMark = now;
  }
}
