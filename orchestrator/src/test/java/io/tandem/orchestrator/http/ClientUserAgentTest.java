package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A User-Agent akka-http cannot model is no warning: the Vercel AI SDK sends {@code
 * ai-sdk/openai-compatible/2.0.92 ai-sdk/provider-utils/4.0.65 runtime/node.js/v20.20.2} (a product
 * token with two slashes, not RFC 9110's {@code product}), and each of its connections logged a WARN
 * quoting it (tester58a); nor are the headers proxies and browsers add (tester61b).
 */
class ClientUserAgentTest {

  @Test
  void theAiSdksUserAgentIsServedWithoutAWarning() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    root.addAppender(lines);
    try (TestServer server = TestServer.start("")) {
      RawExchange sdk = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: ai-sdk/openai-compatible/2.0.92"
          + " ai-sdk/provider-utils/4.0.65 runtime/node.js/v20.20.2\r\nConnection: close\r\n\r\n");
      assertEquals(200, sdk.status(), sdk.head() + sdk.body());
      // akka-http still warns about other headers it cannot model, through the same logger and after
      // any the request before caused: once this one is there, the first would be too.
      // What proxies and browsers add, as akka-http's model refuses it: no warning either (tester61b: a load balancer's
      // X-Forwarded-For with the client's port was a two-line WARN for every request).
      RawExchange proxied = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "X-Forwarded-For: 203.0.113.7:51234\r\nX-Real-Ip: 203.0.113.7:51234\r\nX-Forwarded-Proto: https,http\r\n"
          + "Referer: ::bad\r\nRange: lines=1\r\nDate: not-a-date\r\nIf-Modified-Since: yesterday\r\nConnection: close\r\n\r\n");
      assertEquals(200, proxied.status(), proxied.head() + proxied.body());
      RawExchange marker = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nLast-Modified: not-a-date\r\n"
          + "Connection: close\r\n\r\n");
      assertEquals(200, marker.status(), marker.head() + marker.body());
      TestServer.eventually("akka-http's warning about the Last-Modified header", () -> logged(lines).stream()
          .anyMatch(m -> m.contains("'last-modified' header")));
      List<String> logged = logged(lines);
      assertTrue(logged.stream().noneMatch(m -> m.contains("user-agent") || m.contains("ai-sdk")), logged.toString());
      for (String header : List.of("x-forwarded-for", "x-real-ip", "x-forwarded-proto", "referer", "range", "'date'",
          "if-modified-since"))
        assertTrue(logged.stream().noneMatch(m -> m.toLowerCase(java.util.Locale.ROOT).contains(header)), header + ": " + logged);
    } finally {
      root.detachAppender(lines);
    }
  }

  private static List<String> logged(ListAppender<ILoggingEvent> lines) {
    synchronized (lines) { // the appender writes under its own lock
      return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }
}
