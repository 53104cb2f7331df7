package io.tandem.worker;

import com.typesafe.config.Config;
import io.tandem.protocol.config.ConfigSection;
import java.time.Duration;

/**
 * How a worker talks to a remote engine ({@code tandem.engine} in worker-common's reference.conf):
 * the connect and response-header timeouts of a step's request, and how often and how patiently
 * the engine's health is polled: {@code healthFailureThreshold} polls in a row without an answer
 * within {@code healthTimeout} withdraw the worker (Kubernetes' {@code failureThreshold} of a probe).
 */
public record EngineSettings(Duration connectTimeout, Duration requestTimeout, Duration healthInterval, Duration healthTimeout,
    int healthFailureThreshold) {

  /** @throws IllegalArgumentException when a duration is not positive (the message names the key) */
  public EngineSettings {
    ConfigSection.positive("tandem.engine.connect-timeout", connectTimeout);
    ConfigSection.positive("tandem.engine.request-timeout", requestTimeout);
    ConfigSection.positive("tandem.engine.health-interval", healthInterval);
    ConfigSection.positive("tandem.engine.health-timeout", healthTimeout);
    ConfigSection.within("tandem.engine.health-failure-threshold", healthFailureThreshold, 1, 1000,
        "1 withdraws the worker at the first health check its engine does not answer in time");
  }

  /**
   * Reads {@code tandem.engine} of {@code config}.
   *
   * @throws IllegalArgumentException naming the full key of a value that is missing, not a
   *     duration or number, or not positive
   */
  public static EngineSettings fromConfig(Config config) {
    return ConfigSection.read(config, "tandem.engine", c -> new EngineSettings(c.getDuration("connect-timeout"),
        c.getDuration("request-timeout"), c.getDuration("health-interval"), c.getDuration("health-timeout"),
        c.getInt("health-failure-threshold")));
  }
}
