package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * Valid requests that HTTP libraries seldom send and plain clients do: a health checker's HTTP/1.0
 * without a Host header, the server-wide {@code OPTIONS *}, a target in absolute form without a
 * path. Each gets the answer HTTP defines for it.
 */
class PlainClientsTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  /** HAProxy's and other checkers' probe: HTTP/1.0 makes Host optional (RFC 9112, section 3.2 requires it of 1.1). */
  @Test
  void anHttp10RequestWithoutAHostHeaderIsAnswered() throws Exception {
    RawExchange live = RawExchange.send(server, "GET /health/live HTTP/1.0\r\n\r\n");
    assertEquals(200, live.status(), live.head() + live.body());
    assertEquals("{\"status\":\"live\"}", live.body());
    RawExchange models = RawExchange.send(server, "GET /v1/models HTTP/1.0\r\n\r\n");
    assertEquals(200, models.status(), models.head() + models.body());
    assertTrue(models.body().contains("\"object\":\"list\""), models.body());
  }

  /** An HTTP/1.0 client's compressed body: akka-http's decoder refused to make it chunked for HTTP/1.0 (a 500). */
  @Test
  void anHttp10RequestWithACompressedBodyIsAnswered() throws Exception {
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(gz)) {
      out.write("{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}"
          .getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    byte[] body = gz.toByteArray();
    RawExchange chat = RawExchange.send(server, "POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
        + "Content-Encoding: gzip\r\nContent-Length: " + body.length + "\r\n\r\n"
        + new String(body, java.nio.charset.StandardCharsets.ISO_8859_1));
    assertEquals(200, chat.status(), chat.head() + chat.body());
    assertTrue(chat.body().contains("\"chat.completion\""), chat.body());
  }

  /**
   * A request pipelined behind the client's own last one ({@code Connection: close}, or HTTP/1.0
   * without keep-alive) is not run (RFC 9112, section 9.6): it was run and then cancelled as the
   * connection closed, logged as a client gone (tester54c).
   */
  @Test
  void aRequestPipelinedBehindTheClientsLastOneIsNotRun() throws Exception {
    ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> requests =
        new ch.qos.logback.core.read.ListAppender<>();
    ch.qos.logback.classic.Logger requestLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(
        "tandem.http.requests");
    requests.start();
    requestLog.addAppender(requests);
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
    try {
      // The last: HTTP/1.1 with close; HTTP/1.0 without keep-alive; an HTTP/1.0 stream, which ends with the connection
      // (tester54g: HTTP/1.0 has no chunked encoding).
      String stream = body.replace("}]", "}],\"stream\":true");
      for (String[] last : new String[][] {{"HTTP/1.1", "Host: 127.0.0.1\r\nConnection: close\r\n", body}, {"HTTP/1.0", "", body},
          {"HTTP/1.0", "Connection: keep-alive\r\n", stream}}) {
        String head = "POST /v1/chat/completions %s\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\nX-Request-Id: ";
        String first = String.format(head, last[0], last[1], last[2].length());
        String second = String.format(head, last[0], last[1], body.length());
        String behind = last[0].replace("/", "") + (last[2].equals(body) ? "" : "-stream") + "-behind";
        RawExchange r = RawExchange.send(server, first + "last\r\n\r\n" + last[2] + second + behind + "\r\n\r\n" + body);
        assertEquals(200, r.status(), r.head());
        assertFalse(r.body().contains("HTTP/1."), "one answer, then the close: " + r.body());
        TestServer.eventually("nothing in flight", () -> server.server.requestsInFlight() == 0);
        synchronized (requests) {
          assertTrue(requests.list.stream().noneMatch(e -> e.getFormattedMessage().contains(behind)), "not run: " + requests.list);
        }
      }
      // HTTP/1.0 with keep-alive beside close is kept alive, as akka-http reads it: the next request is served (tester54g: a
      // bare 503 was refused here).
      String keep = "POST /v1/chat/completions HTTP/1.0\r\nConnection: Keep-Alive, close\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length() + "\r\n\r\n" + body;
      String closing = "POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
          + "\r\n\r\n" + body;
      RawExchange both = RawExchange.send(server, keep + closing);
      assertEquals(200, both.status(), both.head());
      assertTrue(both.body().contains("HTTP/1.1 200 OK"), "the second is answered too: " + both.body());
      // A Connection header on two lines is read whole by akka-http, and its first line alone by the gate: where they differ,
      // the request behind is told why it was not run, not given a bare 503 (tester54h).
      String twoLines = keep.replace("Connection: Keep-Alive, close\r\n", "Connection: close\r\nConnection: keep-alive\r\n");
      RawExchange told = RawExchange.send(server, twoLines + closing);
      assertEquals(200, told.status(), told.head());
      assertTrue(!told.body().contains("HTTP/1.1 503") || told.body().contains("was not run; send it again on a new connection")
          && told.body().contains("X-Request-Id: "), "named, as every answer is: " + told.body());
    } finally {
      requestLog.detachAppender(requests);
    }
  }

  /** vLLM's {@code GET /version}, which clients and dashboards read without a key: {@code {"version": "..."}}. */
  @Test
  void versionIsAnsweredAsVllmAnswersIt() throws Exception {
    RawExchange version = RawExchange.send(server, "GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assertEquals(200, version.status(), version.head() + version.body());
    assertEquals("{\"version\":\"" + io.tandem.protocol.TandemVersion.NUMBER + "\"}", version.body());
  }

  /** An empty Host is what a client sends for a target without an authority (RFC 9112, section 3.2). */
  @Test
  void anHttp11RequestWithAnEmptyHostHeaderIsAnswered() throws Exception {
    RawExchange live = RawExchange.send(server, "GET /health/live HTTP/1.1\r\nHost:\r\nConnection: close\r\n\r\n");
    assertEquals(200, live.status(), live.head() + live.body());
  }

  /** OPTIONS about the server as a whole (RFC 9110, section 9.3.7): the methods it serves, no content. */
  @Test
  void optionsAsteriskIsA200AllowingTheMethodsTheServerServes() throws Exception {
    for (String version : new String[] {"HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close", "HTTP/1.0"}) {
      RawExchange r = RawExchange.send(server, "OPTIONS * " + version + "\r\n\r\n");
      assertEquals(200, r.status(), r.head() + r.body());
      assertEquals(Optional.of("GET, HEAD, POST, OPTIONS"), r.header("Allow"), r.head());
      assertEquals(Optional.of("0"), r.header("Content-Length"), r.head());
      assertEquals("", r.body());
    }
  }

  /**
   * A page's OPTIONS * with its Origin (no preflight) is answered as any request of an allowed
   * origin; a preflight OPTIONS * is answered as any preflight, before the routes.
   */
  @Test
  void optionsAsteriskFromAPageCarriesTheCorsHeaders() throws Exception {
    RawExchange plain = RawExchange.send(server, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n"
        + "Connection: close\r\n\r\n");
    assertEquals(200, plain.status(), plain.head());
    assertEquals(Optional.of("GET, HEAD, POST, OPTIONS"), plain.header("Allow"), plain.head());
    assertEquals(Optional.of("*"), plain.header("Access-Control-Allow-Origin"), plain.head());
    RawExchange preflight = RawExchange.send(server, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\n"
        + "Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n");
    assertEquals(200, preflight.status(), preflight.head());
    assertTrue(preflight.header("Access-Control-Allow-Methods").orElse("").contains("POST"), preflight.head());
  }

  /**
   * OPTIONS of a path (RFC 9110, section 9.3.7), as HAProxy's {@code option httpchk} probes a server
   * by default ({@code OPTIONS / HTTP/1.0}), is a 200 listing the path's methods, without an API key;
   * a path the server does not have is still a 404.
   */
  @Test
  void optionsOfAPathIsA200AllowingItsMethods() throws Exception {
    String[][] cases = {{"/", "GET, HEAD, OPTIONS"}, {"/v1/models", "GET, HEAD, OPTIONS"},
        {"/v1/chat/completions", "POST, OPTIONS"}, {"/health/ready", "GET, HEAD, OPTIONS"}};
    for (String[] c : cases) {
      RawExchange r = RawExchange.send(server, "OPTIONS " + c[0] + " HTTP/1.0\r\n\r\n");
      assertEquals(200, r.status(), c[0] + ": " + r.head() + r.body());
      assertEquals(Optional.of(c[1]), r.header("Allow"), c[0] + ": " + r.head());
      assertEquals("", r.body(), c[0]);
    }
    RawExchange none = RawExchange.send(server, "OPTIONS /nowhere HTTP/1.0\r\n\r\n");
    assertEquals(404, none.status(), none.head() + none.body());
  }

  /** The asterisk form is OPTIONS' alone (RFC 9112, section 3.2.4). */
  @Test
  void anotherMethodOfTheAsteriskFormIsA405NamingOptions() throws Exception {
    RawExchange r = RawExchange.send(server, "DELETE * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assertEquals(405, r.status(), r.head() + r.body());
    assertTrue(r.body().contains("DELETE is not allowed here; use OPTIONS"), r.body());
    assertEquals(Optional.of("OPTIONS"), r.header("Allow"), r.head());
  }

  /** A 405 lists the methods the target takes in Allow (RFC 9110, section 15.5.6), HEAD beside GET, and OPTIONS. */
  @Test
  void aWrongMethodIsA405WhoseAllowListsTheMethodsOfThePath() throws Exception {
    String[][] cases = {{"PUT", "/v1/chat/completions", "POST, OPTIONS"}, {"DELETE", "/v1/completions", "POST, OPTIONS"},
        {"PUT", "/health/live", "GET, HEAD, OPTIONS"}, {"POST", "/v1/models", "GET, HEAD, OPTIONS"}};
    for (String[] c : cases) {
      RawExchange r = RawExchange.send(server, c[0] + " " + c[1] + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
          + "Connection: close\r\n\r\n");
      assertEquals(405, r.status(), c[0] + " " + c[1] + ": " + r.head() + r.body());
      assertEquals(Optional.of(c[2]), r.header("Allow"), c[0] + " " + c[1] + ": " + r.head());
    }
    // A path that only begins like one of them is no path of the server, whatever the method.
    for (String path : List.of("/healthx", "/health/foo", "/health/live/x", "/health/ready/", "/v1/modelsx")) {
      RawExchange r = RawExchange.send(server, "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n"
          + "Connection: close\r\n\r\n");
      assertEquals(404, r.status(), path + ": " + r.head() + r.body());
    }
  }

  /** The request log names the asterisk form's target as it was sent, not as an empty path. */
  @Test
  void theRequestLogNamesTheAsteriskFormsTargetAsAnAsterisk() throws Exception {
    List<String> logged = logged("PUT", () -> {
      RawExchange r = RawExchange.send(server, "PUT * HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      assertEquals(405, r.status(), r.head() + r.body());
    });
    assertEquals(1, logged.size(), "one line for the request: " + logged);
    assertTrue(logged.get(0).contains("\"path\":\"*\""), logged.get(0));
    assertTrue(logged.get(0).contains("\"status\":405"), logged.get(0));
  }

  /** A HEAD is answered as a GET without the body, and logged as the HEAD the client sent. */
  @Test
  void theRequestLogNamesAHeadAsHead() throws Exception {
    List<String> logged = logged("HEAD", () -> {
      RawExchange models = RawExchange.send(server, "HEAD /v1/models HTTP/1.0\r\n\r\n");
      assertEquals(200, models.status(), models.head() + models.body());
      assertEquals("", models.body());
      RawExchange chat = RawExchange.send(server, "HEAD /v1/chat/completions HTTP/1.0\r\n\r\n");
      assertEquals(405, chat.status(), chat.head());
    });
    assertEquals(2, logged.size(), "a line for each: " + logged);
    assertTrue(logged.get(0).contains("\"path\":\"/v1/models\",\"status\":200"), logged.get(0));
    assertTrue(logged.get(1).contains("\"error\":\"HEAD is not allowed here; use POST\""), logged.get(1));
  }

  private interface Exchanges {
    void run() throws Exception;
  }

  /** The request log's lines of method {@code method} written while {@code exchanges} ran. */
  private static List<String> logged(String method, Exchanges exchanges) throws Exception {
    Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    requests.addAppender(lines);
    try {
      exchanges.run();
      synchronized (lines) { // the appender writes under its own lock
        return lines.list.stream().map(ILoggingEvent::getFormattedMessage)
            .filter(m -> m.contains("\"method\":\"" + method + "\"")).toList();
      }
    } finally {
      requests.detachAppender(lines);
    }
  }

  /** An empty path is the path / (RFC 9110, section 4.2.3): never a 404 naming an empty path. */
  @Test
  void anAbsoluteTargetWithoutAPathIsOneForTheRoot() throws Exception {
    String authority = "127.0.0.1:" + server.server.port();
    RawExchange page = RawExchange.send(server, "GET http://" + authority + " HTTP/1.1\r\nHost: " + authority
        + "\r\nConnection: close\r\n\r\n");
    assertEquals(200, page.status(), page.head());
    assertTrue(page.header("Content-Type").orElse("").startsWith("text/html"), page.head());
    // Another site may not frame the playground (tester54a), whose API key box a framed click could use.
    assertEquals("DENY", page.header("X-Frame-Options").orElse(""), page.head());
    assertEquals("frame-ancestors 'none'", page.header("Content-Security-Policy").orElse(""), page.head());
    for (String method : new String[] {"POST", "DELETE", "PUT"}) {
      RawExchange r = RawExchange.send(server, method + " http://" + authority + " HTTP/1.1\r\nHost: " + authority
          + "\r\nConnection: close\r\n\r\n");
      assertNotEquals(404, r.status(), r.body());
      assertTrue(r.body().contains(method + " is not allowed here; use GET"), r.body());
      assertFalse(r.body().contains(method + "  "), r.body());
    }
  }
}
