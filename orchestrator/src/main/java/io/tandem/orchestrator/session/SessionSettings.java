package io.tandem.orchestrator.session;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How patient a session is: how long it waits for a worker of a role to be listed, for one step to
 * come back, and what it does when the large model is lost (fail with a retryable error, or finish
 * with the small model alone and say so).
 */
public record SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs) {

  public static SessionSettings defaults() {
    return new SessionSettings(Duration.ofSeconds(10), Duration.ofMinutes(5), false, 4);
  }

  /** Reads {@code tandem.session}. */
  public static SessionSettings fromConfig(Config c) {
    Config s = c.getConfig("tandem.session");
    String loss = s.getString("on-large-loss");
    if (!loss.equals("fail") && !loss.equals("degrade"))
      throw new IllegalArgumentException("tandem.session.on-large-loss must be fail or degrade, got '" + loss + "'");
    return new SessionSettings(s.getDuration("worker-wait"), s.getDuration("step-timeout"), loss.equals("degrade"), 4);
  }
}
