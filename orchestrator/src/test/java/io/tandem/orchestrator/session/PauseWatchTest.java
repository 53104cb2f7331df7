package io.tandem.orchestrator.session;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A pause longer than the cluster downs a node for is said for a while after the node runs again,
 * and only then (tester47a: back from a 15 s SIGSTOP, a downed orchestrator said ready).
 */
class PauseWatchTest {
  static final long S = 1_000_000_000L;

  @Test
  void aPausePastTheLimitIsSaidForTheWindowAfterItAndAShorterOneNever() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    watch.tick();
    now.addAndGet(9 * S); // a stall the cluster waits out
    watch.tick();
    assertNull(watch.standing());
    run(watch, now, 2 * S);
    now.addAndGet(15 * S + 138_532_855L); // stopped past the limit, said to a tenth of a second
    watch.tick();
    assertEquals("this node did not run for 15.1 s (stopped, as by SIGSTOP, or a long GC pause), longer than the 10 s after which"
        + " the other nodes down a node they cannot reach (akka.cluster.failure-detector.acceptable-heartbeat-pause, two"
        + " heartbeats, and akka.cluster.split-brain-resolver.stable-after): it has most likely been downed, and leaves the"
        + " cluster once it learns so", watch.standing());
    for (int i = 0; i < 160; i++) {
      now.addAndGet(S / 10);
      watch.tick();
    }
    assertEquals(true, watch.standing() != null, "16 s after it: still said");
    now.addAndGet(S / 10);
    watch.tick();
    assertNull(watch.standing(), "past the window: a node not downed by then serves again");
  }

  /**
   * A pause is said as the node runs again, before the tick that sees it: a request whose bytes waited in the socket
   * through the pause was taken before the tick, served as if nothing had happened, and waited 8 s for the downing
   * (tester56a).
   */
  @Test
  void aPauseIsSaidAsItEndsBeforeTheTickThatSeesIt() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    watch.tick();
    now.addAndGet(20 * S);
    assertEquals(true, watch.standing() != null && watch.standing().startsWith("this node did not run for 20 s"),
        watch.standing());
    assertEquals(Duration.ofSeconds(20), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)));
  }

  /** What a downed node's exit line asks: its longest recent pause, if long enough for the others to down it. */
  @Test
  void theLongestRecentPauseIsToldWhenItIsLongEnough() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    watch.tick();
    assertNull(watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)), "no pause yet");
    now.addAndGet(11 * S);
    watch.tick();
    assertEquals(Duration.ofSeconds(11), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)));
    run(watch, now, 2 * S);
    now.addAndGet(5 * S); // a shorter stall after it does not hide it
    watch.tick();
    assertEquals(Duration.ofSeconds(11), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)));
    assertEquals(Duration.ofSeconds(11), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(3)));
    assertEquals(Duration.ofSeconds(5), watch.pauseWithin(Duration.ofSeconds(4), Duration.ofSeconds(5)));
    for (int i = 0; i < 300; i++) {
      now.addAndGet(S / 10);
      watch.tick();
    }
    assertNull(watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(3)), "30 s after it: none recent");
  }

  /**
   * A node alone in its cluster is downed by no one: its pause is no reason to refuse requests (tester57a: a one-node
   * cluster stopped for 12 s cut its stream and refused requests for 21 s, and served again without leaving).
   */
  @Test
  void aPauseOfANodeAloneIsNotSaid() {
    AtomicLong now = new AtomicLong(1_000 * S);
    java.util.concurrent.atomic.AtomicBoolean others = new java.util.concurrent.atomic.AtomicBoolean(false);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get, others::get);
    int[] told = {0};
    watch.onPause(() -> told[0]++);
    watch.tick();
    now.addAndGet(20 * S);
    assertNull(watch.standing(), "as it runs again");
    watch.tick();
    assertNull(watch.standing());
    assertEquals(0, told[0]);
    run(watch, now, 2 * S);
    others.set(true); // another node joined: from now on it could
    now.addAndGet(20 * S);
    watch.tick();
    assertEquals(true, watch.standing() != null && watch.standing().startsWith("this node did not run for 20 s"), watch.standing());
    assertEquals(1, told[0]);
  }

  /** A stall followed by a hiccup of a second: the stall is still the one told (the watch kept only the last gap). */
  @Test
  void aHiccupAfterAStallDoesNotHideIt() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    watch.tick();
    now.addAndGet(6 * S);
    watch.tick();
    run(watch, now, 2 * S);
    now.addAndGet(1_200_000_000L);
    watch.tick();
    assertEquals(Duration.ofSeconds(6), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(3)));
    assertNull(watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)), "nor is it made a pause the others down a node for");
  }

  /**
   * Two stops a few milliseconds of running apart are one pause (back-to-back GC pauses):
   * tester61d stopped a node 6 s, let it run 5 ms, stopped it 6 s more; the others downed it for the 12 s, and it said
   * it had stalled 6.1 s as another node was downed (none was), or, an orchestrator, that it was ready.
   */
  @Test
  void stopsBrieflyApartAreOnePause() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    int[] told = {0};
    watch.onPause(() -> told[0]++);
    watch.tick();
    now.addAndGet(6 * S);
    watch.tick(); // the 5 ms it ran
    now.addAndGet(5_000_000L + 6 * S);
    assertEquals(true, watch.standing() != null && watch.standing().startsWith("this node did not run for 12 s"),
        "as it runs again: " + watch.standing());
    watch.tick();
    assertEquals(1, told[0]);
    assertEquals(Duration.ofMillis(12_005), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)),
        "the two gaps between ticks, added");
    // Running 40 ms between them (four ticks 10 ms apart), still one: downed so (tester62d). Running 150 ms, they are
    // two: the node answered its peers' heartbeats, they found it reachable again, and nobody downed it (tester62a:
    // joined, they ended its requests and refused for 23 s).
    PauseWatch briefly = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    briefly.tick();
    now.addAndGet(6 * S);
    briefly.tick();
    for (int i = 0; i < 4; i++) {
      now.addAndGet(S / 100);
      briefly.tick();
    }
    now.addAndGet(6 * S);
    assertEquals(true, briefly.standing() != null && briefly.standing().startsWith("this node did not run for 12 s"),
        "40 ms between: " + briefly.standing());
    PauseWatch ran = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    ran.onPause(() -> told[0]++);
    ran.tick();
    now.addAndGet(6 * S);
    ran.tick();
    for (int i = 0; i < 15; i++) {
      now.addAndGet(S / 100);
      ran.tick();
    }
    now.addAndGet(6 * S);
    assertNull(ran.standing(), "150 ms between, as it runs again");
    ran.tick();
    assertNull(ran.standing());
    assertEquals(1, told[0], "no second pause told");
    assertEquals(Duration.ofSeconds(6), ran.pauseWithin(Duration.ofSeconds(5), Duration.ofSeconds(3)));
  }

  /** Ticks every 100 ms for {@code nanos}: the node runs. */
  private static void run(PauseWatch watch, AtomicLong now, long nanos) {
    for (long t = 0; t < nanos; t += S / 10) {
      now.addAndGet(S / 10);
      watch.tick();
    }
  }

  /**
   * Stops each too short to take a node out of its peers' reach (under acceptable-heartbeat-pause, 2 s) are not joined,
   * however many come in a row: tester61j stopped an orchestrator 8 times for 1.5 s, 0.9 s apart; nobody found it
   * unreachable, yet it said it had most likely been downed, refused requests and ended streams.
   */
  @Test
  void stopsTooShortToBeUnreachableAreNotJoined() {
    AtomicLong now = new AtomicLong(1_000 * S);
    PauseWatch watch = new PauseWatch(Duration.ofSeconds(10), Duration.ofSeconds(16), now::get);
    int[] told = {0};
    watch.onPause(() -> told[0]++);
    watch.tick();
    for (int i = 0; i < 8; i++) {
      now.addAndGet(3 * S / 2);
      watch.tick();
      run(watch, now, 9 * S / 10);
    }
    assertNull(watch.standing());
    assertEquals(0, told[0]);
    assertNull(watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(9)));
    assertEquals(Duration.ofMillis(1_500), watch.pauseWithin(Duration.ofSeconds(29), Duration.ofSeconds(1)));
  }
}
