package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.DispatcherSelector;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tandem.orchestrator.session.NoWorkerLog;
import io.tandem.orchestrator.session.SessionActor;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.protocol.Role;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.WorkerSettings;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * While no large worker is offered (the only large node restarting), every request that needs one
 * fails alike: the operator reads one WARN for the run, with the first request's line, then a count
 * every {@code tandem.session.no-worker-summary-every}, and an INFO once a large worker serves
 * again; each request's own line is at DEBUG. Refusals by the session (a speculative request) and by
 * the HTTP layer (a request of mode {@code large}, whose prompt no large worker can count) are one run.
 */
class NoWorkerLogTest {
  private static final String CHAT = "/v1/chat/completions";
  private static final String SPECULATIVE = "{\"messages\":[{\"role\":\"user\",\"content\":\"Compute.\"}],\"max_tokens\":8";
  private static final String LARGE = SPECULATIVE + ",\"tandem\":{\"mode\":\"large\"}}";
  /** Refusals per test: each kind of request this many times. */
  private static final int EACH = 4;

  @Test
  void aRunOfRequestsWithoutALargeWorkerIsOneWarnWithEachRequestAtDebug() throws Exception {
    try (TestServer server = TestServer.start("tandem.session.no-worker-summary-every = 1h\n", Set.of(Role.small));
         Lines lines = new Lines()) {
      refuseEach(server);
      List<ILoggingEvent> warned = lines.at(Level.WARN);
      assertEquals(1, warned.size(), "one WARN for " + 2 * EACH + " refusals: " + warned);
      String first = warned.get(0).getFormattedMessage();
      assertTrue(first.contains("no large worker is available (none is offered to sessions: retry once one has joined"), first);
      assertTrue(first.contains("until a large worker serves again, such requests are counted every 3600 s here"), first);
      List<ILoggingEvent> each = lines.at(Level.DEBUG).stream()
          .filter(e -> e.getFormattedMessage().contains("no large worker is available")).toList();
      assertEquals(2 * EACH, each.size(), "each request's own line at DEBUG: " + each);
    }
  }

  @Test
  void theRunIsCountedWhileItLastsAndEndsWhenALargeWorkerServesAgain() throws Exception {
    try (TestServer server = TestServer.start("tandem.session.no-worker-summary-every = 100ms\n", Set.of(Role.small));
         Lines lines = new Lines()) {
      refuseEach(server);
      // Every refusal after the first is counted in one of the WARNs that follow it, whatever their timing.
      TestServer.eventually("the counts add up to the refusals after the first",
          () -> counted(lines.at(Level.WARN)) == 2 * EACH - 1);
      server.system.systemActorOf(ModelWorker.create(Role.large, () -> new TestServer.GatedModel("scripted-large",
              TestServer.LARGE, server.gate, 1 << 20), WorkerSettings.defaults(), () -> new FifoQueue(1024)),
          "late-large-worker", DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
      TestServer.eventually("a large worker is listed", () -> server.get("/health/ready").statusCode() == 200);
      // A speculative session, which binds its large worker to prefill ahead (tandem.session.prefill-ahead).
      assertEquals(200, server.post(CHAT, SPECULATIVE + "}", null).statusCode(), "the large model serves again");
      List<String> ended = lines.at(Level.INFO).stream().map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.startsWith("a large worker serves sessions again")).toList();
      assertEquals(1, ended.size(), ended.toString());
      assertTrue(ended.get(0).endsWith(": " + 2 * EACH + " requests that needed one failed meanwhile"), ended.get(0));
    }
  }

  /** A count interval that is no positive duration stops the node as it reads its settings, naming the key. */
  @Test
  void anIntervalThatIsNoPositiveDurationIsRefusedAtStartupNamingTheKey() {
    for (String bad : new String[] {"0s", "10"}) {
      Exception e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
          () -> SessionSettings.fromConfig(com.typesafe.config.ConfigFactory.parseString(
              "tandem.session.no-worker-summary-every = " + bad).withFallback(com.typesafe.config.ConfigFactory.load())));
      assertTrue(e.getMessage().contains("tandem.session.no-worker-summary-every"), bad + ": " + e.getMessage());
    }
  }

  /** Sends {@link #EACH} speculative requests and as many of mode large, each refused with a retryable 503. */
  private static void refuseEach(TestServer server) throws Exception {
    for (int i = 0; i < EACH; i++) {
      NoLargeWorkerTest.assertRetryable(server.post(CHAT, SPECULATIVE + "}", null), "speculative");
      NoLargeWorkerTest.assertRetryable(server.post(CHAT, LARGE, null), "mode large");
    }
  }

  private static final Pattern COUNT = Pattern.compile("^still no large worker: (\\d+) requests? that needed one failed in the last 0\\.1 s$");

  /** The requests the WARNs after the first count. */
  private static int counted(List<ILoggingEvent> warned) {
    int n = 0;
    for (ILoggingEvent e : warned.subList(Math.min(1, warned.size()), warned.size())) {
      Matcher m = COUNT.matcher(e.getFormattedMessage());
      assertTrue(m.matches(), e.getFormattedMessage());
      n += Integer.parseInt(m.group(1));
    }
    return n;
  }

  /** The loggers of the lines a request without a worker may write. */
  private static final Set<String> SOURCES = Set.of(NoWorkerLog.class.getName(), SessionActor.class.getName(),
      WorkerView.class.getName());

  /** What the {@link #SOURCES} log from now until closed, DEBUG included. */
  private static final class Lines implements AutoCloseable {
    private final Logger logger = (Logger) LoggerFactory.getLogger("io.tandem");
    private final Level level = logger.getLevel();
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    Lines() {
      appender.start();
      logger.setLevel(Level.DEBUG);
      logger.addAppender(appender);
    }

    /** The events logged so far at {@code level}. */
    List<ILoggingEvent> at(Level level) {
      synchronized (appender) {
        return appender.list.stream().filter(e -> e.getLevel() == level && SOURCES.contains(e.getLoggerName())).toList();
      }
    }

    @Override
    public void close() {
      logger.detachAppender(appender);
      logger.setLevel(level);
    }
  }
}
