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
 * A credential a client sends is never written to the server's log, whatever its shape: an {@code
 * Authorization} header akka-http cannot model ({@code Bearer a b}) still gets the OpenAI 401, and
 * its value stays out of the warnings akka-http writes about headers it cannot model.
 */
class CredentialsKeptOutOfLogsTest {
  private static final String KEY = "sk-logs-1";

  @Test
  void aMalformedAuthorizationHeaderIsA401AndItsValueIsNotLogged() throws Exception {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    root.addAppender(lines);
    try (TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = t}]\n")) {
      RawExchange bad = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Authorization: Bearer secret with spaces\r\nConnection: close\r\n\r\n");
      assertEquals(401, bad.status(), bad.head() + bad.body());
      assertTrue(bad.body().contains("\"error\"") && bad.body().contains("incorrect API key provided")
          && !bad.body().contains("secret"), bad.body());
      // akka-http still warns about other headers it cannot model; that warning comes after any the
      // request before it caused, through the same logger, so once it is there the first one would be too.
      RawExchange marker = RawExchange.send(server, "GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
          + "\r\nLast-Modified: not-a-date\r\nConnection: close\r\n\r\n");
      assertEquals(200, marker.status(), marker.head() + marker.body());
      TestServer.eventually("akka-http's warning about the Last-Modified header", () -> logged(lines).stream()
          .anyMatch(m -> m.contains("'last-modified' header")));
      List<String> logged = logged(lines);
      assertTrue(logged.stream().noneMatch(m -> m.contains("secret with spaces") || m.contains(KEY)), logged.toString());
    } finally {
      root.detachAppender(lines);
    }
  }

  /**
   * A key a client put where it does not belong (a model's name, a path) is in the refusal the
   * client gets, as vLLM answers it, but not in the request log, which whoever reads the server's
   * output reads (tester52b).
   */
  @Test
  void aKeyAClientPutInAFieldOrAPathIsNotInTheRequestLog() throws Exception {
    String leak = "sk-LEAKMARK0123456789abcdef";
    Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    requests.addAppender(lines);
    try (TestServer server = TestServer.start("")) {
      String body = "{\"model\":\"" + leak + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
      RawExchange model = RawExchange.send(server, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\nConnection: close\r\n\r\n" + body);
      assertEquals(404, model.status(), model.body());
      assertTrue(model.body().contains(leak), "the client is told what it sent: " + model.body());
      RawExchange path = RawExchange.send(server, "GET /" + leak + "/v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      assertEquals(404, path.status(), path.body());
      // A long path the error quotes clipped, and a target that is no URI (tester52f).
      RawExchange clipped = RawExchange.send(server, "GET /v1/chat/completions/" + leak + "/x/y/z HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Connection: close\r\n\r\n");
      assertEquals(404, clipped.status(), clipped.body());
      RawExchange target = RawExchange.send(server, "GET /v1/" + leak + "{ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      assertEquals(400, target.status(), target.body());
      TestServer.eventually("the requests logged", () -> logged(lines).stream().filter(m -> m.contains("\"status\":40")).count() >= 4);
      List<String> logged = logged(lines);
      assertTrue(logged.stream().noneMatch(m -> m.contains("LEAKMARK")), logged.toString());
      assertTrue(logged.stream().anyMatch(m -> m.contains("\"path\":\"/v1/chat/completions\"")), logged.toString());
    } finally {
      requests.detachAppender(lines);
    }
  }

  private static List<String> logged(ListAppender<ILoggingEvent> lines) {
    synchronized (lines) { // the appender writes under its own lock
      return lines.list.stream().map(e -> e.getFormattedMessage() + (e.getThrowableProxy() == null ? ""
          : " " + e.getThrowableProxy().getMessage())).toList();
    }
  }
}
