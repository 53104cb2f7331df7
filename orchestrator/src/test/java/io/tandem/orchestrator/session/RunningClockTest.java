package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** {@link RunningClock} leaves out the time the process did not run, and only that. */
class RunningClockTest {

  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
  private final AtomicLong now = new AtomicLong(1_000_000 * MS);
  private final RunningClock clock = new RunningClock(now::get);

  /** Advances the raw clock by {@code millis} in beats of 10 ms, as while the process runs. */
  private void run(long millis) {
    for (long t = 0; t < millis; t += RunningClock.BEAT_MILLIS) {
      now.addAndGet(RunningClock.BEAT_MILLIS * MS);
      clock.beat();
    }
  }

  /** Advances the raw clock by {@code millis} with no beat: the process is stopped. */
  private void stop(long millis) {
    now.addAndGet(millis * MS);
  }

  @Test
  void whileTheProcessRunsTheClockIsTheRawOne() {
    long start = clock.nanos();
    run(5_000);
    assertEquals(5_000 * MS, clock.nanos() - start);
    assertEquals(0, clock.notRunNanos());
  }

  @Test
  void aLateBeatWithinTheAllowanceCountsAsRun() {
    long start = clock.nanos();
    stop(400); // a thread woken 400 ms late on a loaded machine
    clock.beat();
    assertEquals(400 * MS, clock.nanos() - start);
    assertEquals(0, clock.notRunNanos());
  }

  @Test
  void aStopIsLeftOutBeyondTheAllowanceBeforeAndAfterTheNextBeat() {
    run(1_000);
    long before = clock.nanos();
    stop(6_000);
    // Read before the beating thread has run again: the stop so far is already left out.
    assertEquals(500 * MS, clock.nanos() - before);
    assertEquals(5_500 * MS, clock.notRunNanos());
    clock.beat();
    assertEquals(500 * MS, clock.nanos() - before, "the beat after the stop changes nothing read");
    assertEquals(5_500 * MS, clock.notRunNanos());
    run(300);
    stop(6_000);
    clock.beat();
    run(1_000);
    assertEquals(500 * MS + 300 * MS + 500 * MS + 1_000 * MS, clock.nanos() - before, "two stops, each left out");
    assertEquals(11_000 * MS, clock.notRunNanos());
  }

  @Test
  void theClockNeverGoesBack() {
    long last = clock.nanos();
    for (int i = 0; i < 1_000; i++) {
      if (i % 7 == 0) stop(900);
      else run(10);
      if (i % 3 == 0) clock.beat();
      long read = clock.nanos();
      assertTrue(read >= last, "read " + read + " after " + last);
      last = read;
    }
  }

  @Test
  void theProcessClockBeatsOnItsOwn() throws InterruptedException {
    RunningClock process = RunningClock.process();
    long raw = System.nanoTime(), run = process.nanos();
    Thread.sleep(1_500); // the stretch measured, not a wait for an event
    long runGone = process.nanos() - run, rawGone = System.nanoTime() - raw;
    // Without its beats, the clock would stop 500 ms into the sleep.
    assertTrue(runGone > 1_000 * MS, "ran " + runGone / MS + " ms of " + rawGone / MS);
    assertTrue(runGone <= rawGone, "ran " + runGone + " ns of " + rawGone);
  }
}
