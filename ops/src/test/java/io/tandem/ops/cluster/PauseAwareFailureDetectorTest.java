package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.orchestrator.session.RunningClock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * {@link PauseAwareFailureDetector} does not blame a peer for this node's own stop, and still finds
 * out a peer that stops answering as Akka's detector does.
 */
class PauseAwareFailureDetectorTest {

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

  private PauseAwareFailureDetector detector() {
    Config c = ConfigFactory.parseString("""
        threshold = 8.0
        max-sample-size = 1000
        min-std-deviation = 100ms
        acceptable-heartbeat-pause = 2s
        heartbeat-interval = 500ms
        """);
    return new PauseAwareFailureDetector(c, Option.empty(), clock);
  }

  @Test
  void aStoppedNodeDoesNotFindItsPeerSilentForItsOwnStop() {
    PauseAwareFailureDetector peer = detector();
    for (int i = 0; i < 20; i++) {
      peer.heartbeat();
      run(500);
    }
    assertTrue(peer.isAvailable());
    stop(12_000); // this node stopped 12 s: its peer's replies waited unread
    assertTrue(peer.isAvailable(), "waking, before any reply was read");
    run(300);
    assertTrue(peer.isAvailable());
  }

  @Test
  void aPeerThatStopsAnsweringIsStillFoundOut() {
    PauseAwareFailureDetector peer = detector();
    for (int i = 0; i < 20; i++) {
      peer.heartbeat();
      run(500);
    }
    run(1_000);
    assertTrue(peer.isAvailable(), "1.5 s since the last reply: within acceptable-heartbeat-pause");
    run(3_000);
    assertFalse(peer.isAvailable(), "4.5 s since the last reply, this node running all along");
  }

  @Test
  void akkasDetectorOnTheRawClockBlamesThePeerForTheStop() {
    // The same history and stop read by Akka's own detector: the stop counts against the peer.
    akka.remote.PhiAccrualFailureDetector akka = new akka.remote.PhiAccrualFailureDetector(8.0, 1000,
        new FiniteDuration(100, TimeUnit.MILLISECONDS), new FiniteDuration(2, TimeUnit.SECONDS),
        new FiniteDuration(500, TimeUnit.MILLISECONDS), new akka.remote.FailureDetector.Clock() {
          @Override
          public long apply$mcJ$sp() {
            return TimeUnit.NANOSECONDS.toMillis(now.get());
          }

          @Override
          public Object apply() {
            return apply$mcJ$sp();
          }
        });
    for (int i = 0; i < 20; i++) {
      akka.heartbeat();
      run(500);
    }
    stop(12_000);
    assertFalse(akka.isAvailable());
  }
}
