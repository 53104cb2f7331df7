package io.tandem.orchestrator.session;

import com.typesafe.config.Config;
import io.tandem.protocol.config.ConfigSection;
import java.time.Duration;

/**
 * How patient a session is ({@code tandem.session}, {@code tandem.routing}): how long it waits for
 * a worker of a role to be listed ({@code workerWait}), for one step to come back
 * ({@code stepTimeout}), how long the node of the worker holding its step may stay unreachable
 * before the worker counts as lost ({@code workerLostAfter}, see {@link SessionActor}), what it
 * does when the large model is lost (fail with a retryable error, or finish with the small model
 * alone and say so), and when the small model is lost mid-answer ({@code largeWithoutSmall}: fail, or
 * finish with the large model alone and say so), how many resyncs one step may take; how it picks a worker when it has none yet
 * (the least loaded of its first {@code loadChoices} by affinity); whether it publishes a
 * {@link StepTimings} per step on the event stream (for simulations and tests); and above which
 * expected queue wait of the large model it skips an optional large step ({@code skipTakeoverAbove},
 * null: never); and whether a speculative session sends the large worker the decided text while the
 * small model writes ({@code prefillAhead}, see {@link SessionActor}); and after how long a silent step
 * on a worker of another node has the session ask that worker whether it still holds it
 * ({@code stepCheckInterval}: a "no" means its answer was lost between the nodes, and the step goes
 * again).
 */
public record SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs,
    int loadChoices, boolean publishStepTimings, Duration workerLostAfter, Duration skipTakeoverAbove,
    boolean prefillAhead, boolean largeWithoutSmall, Duration stepCheckInterval) {

  /** What {@code tandem.session.worker-lost-after} is when a caller does not say. */
  static final Duration DEFAULT_WORKER_LOST_AFTER = Duration.ofSeconds(1);
  /** What {@code tandem.session.step-check-interval} is when a caller does not say. */
  static final Duration DEFAULT_STEP_CHECK_INTERVAL = Duration.ofSeconds(2);

  /** @throws IllegalArgumentException naming the key of a value out of its range */
  public SessionSettings {
    ConfigSection.positive("tandem.session.worker-wait", workerWait);
    ConfigSection.positive("tandem.session.step-timeout", stepTimeout);
    if (loadChoices < 1) throw new IllegalArgumentException("tandem.routing.load-choices must be >= 1, got " + loadChoices);
    ConfigSection.notNegative("tandem.session.worker-lost-after", workerLostAfter, "at once");
    ConfigSection.positive("tandem.session.step-check-interval", stepCheckInterval);
    if (skipTakeoverAbove != null) ConfigSection.notNegative("tandem.session.skip-takeover-above", skipTakeoverAbove,
        "skip every optional takeover the large queue would delay at all");
  }

  /** As the canonical constructor, with the default {@code step-check-interval}. */
  public SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs,
      int loadChoices, boolean publishStepTimings, Duration workerLostAfter, Duration skipTakeoverAbove,
      boolean prefillAhead, boolean largeWithoutSmall) {
    this(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings, workerLostAfter,
        skipTakeoverAbove, prefillAhead, largeWithoutSmall, DEFAULT_STEP_CHECK_INTERVAL);
  }

  /** As the canonical constructor, failing a session that loses its small model ({@code on-small-loss = fail}). */
  public SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs,
      int loadChoices, boolean publishStepTimings, Duration workerLostAfter, Duration skipTakeoverAbove,
      boolean prefillAhead) {
    this(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings, workerLostAfter,
        skipTakeoverAbove, prefillAhead, false);
  }

  /** Settings without a skip policy and without prefills ahead ({@link #withPrefillAhead} turns them on). */
  public SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs,
      int loadChoices, boolean publishStepTimings) {
    this(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings,
        DEFAULT_WORKER_LOST_AFTER, null, false);
  }

  public SessionSettings(Duration workerWait, Duration stepTimeout, boolean degradeWithoutLarge, int maxResyncs) {
    this(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, 2, false);
  }

  public static SessionSettings defaults() {
    return new SessionSettings(Duration.ofSeconds(10), Duration.ofMinutes(5), false, 4);
  }

  /**
   * Reads {@code tandem.session} and {@code tandem.routing}.
   *
   * @throws IllegalArgumentException naming the full key of a value that is missing, not of its
   *     type or out of its range
   */
  public static SessionSettings fromConfig(Config c) {
    int choices = c.hasPath("tandem.routing.load-choices") ? ConfigSection.read(c, "tandem.routing", r -> r.getInt("load-choices")) : 2;
    return ConfigSection.read(c, "tandem.session", s -> fromSection(s, choices));
  }

  private static SessionSettings fromSection(Config s, int choices) {
    String loss = s.getString("on-large-loss");
    if (!loss.equals("fail") && !loss.equals("degrade"))
      throw new IllegalArgumentException("tandem.session.on-large-loss must be fail or degrade, got '" + loss + "'");
    String smallLoss = s.hasPath("on-small-loss") ? s.getString("on-small-loss") : "fail";
    if (!smallLoss.equals("fail") && !smallLoss.equals("large"))
      throw new IllegalArgumentException("tandem.session.on-small-loss must be fail or large, got '" + smallLoss + "'");
    boolean publish = s.hasPath("publish-step-timings") && s.getBoolean("publish-step-timings");
    NoWorkerLog.every(s); // read by the node's NoWorkerLog; checked here, at startup
    Duration lostAfter = s.hasPath("worker-lost-after") ? s.getDuration("worker-lost-after") : DEFAULT_WORKER_LOST_AFTER;
    Duration skip = null;
    if (s.hasPath("skip-takeover-above") && !s.getString("skip-takeover-above").equals("off")) {
      try {
        skip = s.getDuration("skip-takeover-above");
      } catch (com.typesafe.config.ConfigException e) {
        throw new IllegalArgumentException("tandem.session.skip-takeover-above must be off or a duration (e.g. 2s), got '"
            + s.getString("skip-takeover-above") + "'");
      }
    }
    boolean ahead = !s.hasPath("prefill-ahead") || s.getBoolean("prefill-ahead");
    Duration check = s.hasPath("step-check-interval") ? s.getDuration("step-check-interval") : DEFAULT_STEP_CHECK_INTERVAL;
    return new SessionSettings(s.getDuration("worker-wait"), s.getDuration("step-timeout"), loss.equals("degrade"), 4,
        choices, publish, lostAfter, skip, ahead, smallLoss.equals("large"), check);
  }

  /** These settings skipping optional takeovers above {@code wait} of expected large-queue wait (null: never). */
  public SessionSettings withSkipTakeoverAbove(Duration wait) {
    return new SessionSettings(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings,
        workerLostAfter, wait, prefillAhead, largeWithoutSmall, stepCheckInterval);
  }

  /** These settings with prefills ahead of takeovers on or off. */
  public SessionSettings withPrefillAhead(boolean on) {
    return new SessionSettings(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings,
        workerLostAfter, skipTakeoverAbove, on, largeWithoutSmall, stepCheckInterval);
  }

  /** These settings finishing a speculative session that lost its small model with the large model alone, or failing it. */
  public SessionSettings withLargeWithoutSmall(boolean on) {
    return new SessionSettings(workerWait, stepTimeout, degradeWithoutLarge, maxResyncs, loadChoices, publishStepTimings,
        workerLostAfter, skipTakeoverAbove, prefillAhead, on, stepCheckInterval);
  }
}
