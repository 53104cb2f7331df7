package io.tandem.ops.cluster;

import akka.event.EventStream;
import akka.remote.FailureDetector;
import akka.remote.PhiAccrualFailureDetector;
import com.typesafe.config.Config;
import io.tandem.orchestrator.session.RunningClock;
import java.util.concurrent.TimeUnit;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Akka's phi-accrual failure detector, its time read from {@link RunningClock} (the time this
 * process ran) instead of the wall's monotonic clock: a node that was itself stopped does not count
 * its own stop as its peers' silence, and so does not mark them unreachable as it runs again. A peer
 * that really stops answering is still found out as before, {@code acceptable-heartbeat-pause} and a
 * heartbeat or two after its last reply, counted in time this node ran.
 *
 * <p>Set as {@code akka.cluster.failure-detector.implementation-class}; reads the same settings as
 * Akka's {@code PhiAccrualFailureDetector} ({@code threshold}, {@code max-sample-size}, {@code
 * min-std-deviation}, {@code acceptable-heartbeat-pause}, and {@code heartbeat-interval} as the first
 * heartbeat's estimate), as Akka's constructor from a {@code Config} reads them.
 */
public final class PauseAwareFailureDetector extends PhiAccrualFailureDetector {

  /** As Akka builds a failure detector: the section {@code akka.cluster.failure-detector}, and the event stream. */
  public PauseAwareFailureDetector(Config config, EventStream events) {
    this(config, Option.apply(events), RunningClock.process());
  }

  /** One reading {@code clock}: for tests. */
  PauseAwareFailureDetector(Config config, Option<EventStream> events, RunningClock clock) {
    super(config.getDouble("threshold"), config.getInt("max-sample-size"), millis(config, "min-std-deviation"),
        millis(config, "acceptable-heartbeat-pause"), millis(config, "heartbeat-interval"), events, new Millis(clock));
  }

  private static FiniteDuration millis(Config config, String key) {
    return new FiniteDuration(config.getDuration(key, TimeUnit.MILLISECONDS), TimeUnit.MILLISECONDS);
  }

  /** {@link RunningClock} in milliseconds, as Akka's failure detectors read their clock. */
  private static final class Millis extends FailureDetector.Clock {
    private final RunningClock clock;

    Millis(RunningClock clock) {
      this.clock = clock;
    }

    @Override
    public long apply$mcJ$sp() {
      return TimeUnit.NANOSECONDS.toMillis(clock.nanos());
    }

    @Override
    public Object apply() {
      return apply$mcJ$sp();
    }
  }
}
