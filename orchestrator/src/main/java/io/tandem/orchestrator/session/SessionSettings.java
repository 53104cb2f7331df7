package io.tandem.orchestrator.session;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How patient a session is: how long it waits for a worker of a role to be listed, for one step to
 * come back, and what it does when the large model is lost (fail with a retryable error, or finish
 * with the small model alone and say so); and how it picks a worker when it has none yet (the
 * least loaded of its first {@code loadChoices} by affinity), and whether it publishes a
 * {@link StepTimed} per step on the event stream (for simulations and tests).
 */
public record SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs,
    int loadChoices, boolean publishStepTimings) {

  public SessionSettings {
    if (loadChoices < 1) throw new IllegalArgumentException("tandem.routing.load-choices must be >= 1, got " + loadChoices);
  }

  public SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs) {
    this(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, 2, false);
  }

  public static SessionSettings defaults() {
    return new SessionSettings(Duration.ofSeconds(10), Duration.ofMinutes(5), false, 4);
  }

  /** Reads {@code tandem.session} and {@code tandem.routing}. */
  public static SessionSettings fromConfig(Config c) {
    Config s = c.getConfig("tandem.session");
    String loss = s.getString("on-large-loss");
    if (!loss.equals("fail") && !loss.equals("degrade"))
      throw new IllegalArgumentException("tandem.session.on-large-loss must be fail or degrade, got '" + loss + "'");
    int choices = c.hasPath("tandem.routing.load-choices") ? c.getInt("tandem.routing.load-choices") : 2;
    boolean publish = s.hasPath("publish-step-timings") && s.getBoolean("publish-step-timings");
    return new SessionSettings(s.getDuration("worker-wait"), s.getDuration("step-timeout"), loss.equals("degrade"), 4,
        choices, publish);
  }

  public SessionSettings withDegradeWithoutLarge(boolean degrade) {
    return new SessionSettings(workerWait, stepTimeout, degrade, maxResyncs, loadChoices, publishStepTimings);
  }

  public SessionSettings withPublishStepTimings(boolean publish) {
    return new SessionSettings(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publish);
  }
}
