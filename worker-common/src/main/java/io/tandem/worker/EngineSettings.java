package io.tandem.worker;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * How a worker talks to a remote engine ({@code tandem.engine} in worker-common's reference.conf):
 * the connect and response-header timeouts of a step's request, and how often and how patiently
 * the engine's health is polled.
 */
public record EngineSettings(Duration connectTimeout, Duration requestTimeout, Duration healthInterval, Duration healthTimeout) {

  /** @throws IllegalArgumentException when a duration is not positive (the message names the key) */
  public EngineSettings {
    positive(connectTimeout, "connect-timeout");
    positive(requestTimeout, "request-timeout");
    positive(healthInterval, "health-interval");
    positive(healthTimeout, "health-timeout");
  }

  /**
   * Reads {@code tandem.engine} of {@code config}.
   *
   * @throws com.typesafe.config.ConfigException when a key is missing or not a duration
   */
  public static EngineSettings fromConfig(Config config) {
    Config c = config.getConfig("tandem.engine");
    return new EngineSettings(c.getDuration("connect-timeout"), c.getDuration("request-timeout"),
        c.getDuration("health-interval"), c.getDuration("health-timeout"));
  }

  private static void positive(Duration d, String key) {
    if (d == null || d.isZero() || d.isNegative())
      throw new IllegalArgumentException("tandem.engine." + key + " must be a positive duration, got " + d);
  }
}
