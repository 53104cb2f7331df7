package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * akka-http's two ERRORs with stack traces for an HTTP/1.0 request sent in chunks become one WARN
 * line under the shipped logback.xml; other errors, that exception's elsewhere included, are kept.
 */
class ChunkedHttp10NoiseTest {

  @Test
  void akkaHttpsTwoErrorsBecomeOneWarningAndOtherErrorsAreKept() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    assertTrue(context.getTurboFilterList().stream().anyMatch(f -> f instanceof ChunkedHttp10Noise),
        "logback.xml installs the filter: " + context.getTurboFilterList());
    Logger stage = context.getLogger("akka.actor.RepointableActorRef");
    Logger system = context.getLogger("akka.actor.ActorSystemImpl");
    Logger server = context.getLogger("io.tandem.orchestrator.http.TandemHttpServer");
    Logger ours = context.getLogger("io.tandem.ops.Somewhere");
    ListAppender<ILoggingEvent> seen = new ListAppender<>();
    seen.start();
    List<Logger> loggers = List.of(stage, system, server, ours);
    // Levels are set here, not inherited: a test run before this one in the same JVM may have turned
    // "akka" and "io.tandem" off (generate --quiet does), and the filter must be seen at WARN.
    List<Level> levels = loggers.stream().map(Logger::getLevel).toList();
    loggers.forEach(l -> {
      l.setLevel(Level.WARN);
      l.addAppender(seen);
    });
    try {
      IllegalArgumentException refusal = new IllegalArgumentException(ChunkedHttp10Noise.REFUSAL);
      stage.error("Error in stage [akka.http.impl.engine.server.HttpServerBluePrint$PrepareRequests$$anon$1]: "
          + ChunkedHttp10Noise.REFUSAL, refusal);
      system.error(ChunkedHttp10Noise.ANSWERED, refusal);
      system.error(ChunkedHttp10Noise.ANSWERED, new IllegalArgumentException("requirement failed: something else"));
      ours.error("a line of our own", refusal);
      List<String> lines = seen.list.stream().map(e -> e.getLevel() + " " + e.getLoggerName() + " "
          + (e.getThrowableProxy() == null ? "" : "(with a stack) ") + e.getFormattedMessage()).toList();
      assertEquals(3, lines.size(), String.join("\n", lines));
      assertTrue(lines.get(0).startsWith("WARN io.tandem.orchestrator.http.TandemHttpServer an HTTP/1.0 request came with"
          + " Transfer-Encoding: chunked"), lines.get(0));
      assertEquals("ERROR akka.actor.ActorSystemImpl (with a stack) " + ChunkedHttp10Noise.ANSWERED, lines.get(1));
      assertEquals("ERROR io.tandem.ops.Somewhere (with a stack) a line of our own", lines.get(2));
    } finally {
      for (int i = 0; i < loggers.size(); i++) {
        loggers.get(i).detachAppender(seen);
        loggers.get(i).setLevel(levels.get(i));
      }
    }
  }
}
