package io.tandem.orchestrator.session;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import io.tandem.protocol.Role;
import io.tandem.protocol.config.ConfigSection;
import io.tandem.protocol.text.Plural;
import io.tandem.protocol.text.Seconds;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a node logs the requests that no worker of a role could serve (a 503, a stream's error event,
 * or the small model alone, degraded): while the only large node restarts, every request that needs
 * it meets the same cause, and one WARN per request would bury the rest of the log. So the first of
 * a run of them is a WARN, with its own line and what follows; while the run lasts, a WARN every
 * {@code tandem.session.no-worker-summary-every} (10 s) counts those since the last (none when
 * there were none); and when a session of the role is given a worker again, an INFO ends the run
 * with its length and total. Each request's own line is at DEBUG where it happens, and in the
 * request log ({@code tandem.http.requests}) with its status and error. One per node, as an Akka
 * extension of its actor system ({@link RoleSupply} is another), read by the sessions and the HTTP
 * layer alike.
 */
public final class NoWorkerLog implements Extension {
  private static final Logger LOG = LoggerFactory.getLogger(NoWorkerLog.class);

  /** The setting's key in {@code tandem.session}, and its value where a node's configuration lacks it. */
  private static final String EVERY_KEY = "no-worker-summary-every";
  private static final Duration DEFAULT_EVERY = Duration.ofSeconds(10);

  private static final ExtensionId<NoWorkerLog> ID = new ExtensionId<>() {
    @Override
    public NoWorkerLog createExtension(ActorSystem<?> system) {
      var config = system.settings().config();
      Duration every = config.hasPath("tandem.session") ? ConfigSection.read(config, "tandem.session", NoWorkerLog::every)
          : DEFAULT_EVERY;
      return new NoWorkerLog(system, every);
    }
  };

  /**
   * How often a run is counted, from the section {@code tandem.session} ({@link SessionSettings}
   * reads it at startup too, so that a bad value stops the node there).
   *
   * @throws IllegalArgumentException naming the key of a value that is not above 0
   */
  static Duration every(com.typesafe.config.Config session) {
    if (!session.hasPath(EVERY_KEY)) return DEFAULT_EVERY;
    return ConfigSection.positive("tandem.session." + EVERY_KEY, session.getDuration(EVERY_KEY));
  }

  /** This node's log of requests without a worker. */
  public static NoWorkerLog get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** One run of requests without a worker of a role. */
  private static final class Run {
    final long startNanos = System.nanoTime();
    /** Since the run began: requests that failed, and that went on with the small model alone. */
    long failed, degraded;
    /** Since the last count. */
    long failedSince, degradedSince;
    /** Whether a count is scheduled. */
    boolean counting;
  }

  private final ActorSystem<?> system;
  private final Duration every;
  private final Map<Role, Run> runs = new EnumMap<>(Role.class);
  /** Whether any run is open: read without the lock by {@link #served}, which every session calls. */
  private volatile boolean open;

  private NoWorkerLog(ActorSystem<?> system, Duration every) {
    this.system = system;
    this.every = every;
  }

  /**
   * A request found no worker of {@code role}: it failed, or ({@code degraded}) went on with the
   * small model alone. {@code line} says so as a log line would (its caller logs it at DEBUG): the
   * first of a run is also logged at WARN.
   */
  public synchronized void unserved(Role role, boolean degraded, String line) {
    Run run = runs.get(role);
    if (run == null) {
      runs.put(role, run = new Run());
      open = true;
      LOG.warn("{}; until a {} worker serves again, such requests are counted every {} s here (each at DEBUG, and in the"
          + " request log)", line, role, Seconds.of(every));
    } else if (degraded) {
      run.degradedSince++;
    } else {
      run.failedSince++;
    }
    if (degraded) run.degraded++;
    else run.failed++;
    if (!run.counting) schedule(role, run);
  }

  /** A session was given a worker of {@code role}: the run without one, if any, ends. */
  public void served(Role role) {
    if (!open) return;
    synchronized (this) {
      Run run = runs.remove(role);
      open = !runs.isEmpty();
      if (run == null) return;
      // Said when a session is next given one (a worker that came back while no request came is not
      // seen here), so the time runs from the first session without one to the first served again.
      // Worded so (tester47d read 18 s of an outage of under 1 s, the next request having come late).
      LOG.info("a {} worker serves sessions again: the first session given one came {} s after the first that found none"
          + " (a worker may have been back sooner, with no request to see it): {}", role,
          Seconds.of(Duration.ofMillis((System.nanoTime() - run.startNanos) / 1_000_000)),
          outcome(role, run.failed, run.degraded) + " meanwhile");
    }
  }

  private void schedule(Role role, Run run) {
    run.counting = true;
    try {
      system.scheduler().scheduleOnce(every, () -> count(role, run), system.executionContext());
    } catch (akka.actor.SchedulerException shuttingDown) {
      // The node is going down: no count to come.
    }
  }

  /** Counts the run's requests since the last count; none since: the counts pause until the next one. */
  private synchronized void count(Role role, Run run) {
    run.counting = false;
    if (runs.get(role) != run) return;
    if (run.failedSince == 0 && run.degradedSince == 0) return;
    LOG.warn("still no {} worker: {} in the last {} s", role, outcome(role, run.failedSince, run.degradedSince),
        Seconds.of(every));
    run.failedSince = 0;
    run.degradedSince = 0;
    schedule(role, run);
  }

  /** What became of the requests that needed the role: "3 requests that need one failed", and the degraded ones. */
  private static String outcome(Role role, long failed, long degraded) {
    String f = Plural.count(failed, "request") + " that needed one failed";
    // Without a small worker it is the large model that goes on (on-small-loss = large; tester46d read "small" there).
    String d = Plural.count(degraded, "request") + " that needed one went on with the " + (role == Role.small ? "large" : "small")
        + " model alone";
    if (degraded == 0) return f;
    if (failed == 0) return d;
    return f + ", " + d;
  }
}
