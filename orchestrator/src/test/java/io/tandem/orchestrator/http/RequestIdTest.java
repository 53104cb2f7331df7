package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * The {@code X-Request-Id} header on every answer, whatever the client sent in it, and the request
 * log's line that names it: answers made before any route (CORS preflights, requests akka-http
 * cannot parse) included, a header that cannot come back as it came never mangled, and one that
 * cannot name a completion still traceable in the log.
 */
class RequestIdTest {
  static final String KEY = "sk-ids";
  static final String PAGE = "http://localhost:3000";
  static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";
  static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = \"" + KEY + "\", tenant = t}]\n"
      + "tandem.http.allowed-origins = [\"" + PAGE + "\"]\n");

  private final Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

  @BeforeEach
  void listen() {
    lines.start();
    requests.addAppender(lines);
  }

  @AfterEach
  void stopListening() {
    requests.detachAppender(lines);
  }

  /** The request log's line whose {@code id} is {@code id}, once it is written. */
  private JsonNode logged(String id) throws Exception {
    return loggedWhere("id", id);
  }

  /** The request log's first line whose {@code field} is {@code value}, once it is written. */
  private JsonNode loggedWhere(String field, String value) throws Exception {
    JsonNode[] found = new JsonNode[1];
    TestServer.eventually("a request log line with " + field + " " + value, () -> {
      List<String> all;
      synchronized (lines) { // the appender writes under its own lock
        all = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      }
      for (String line : all) {
        JsonNode o = JSON.readTree(line);
        if (found[0] == null && o.path(field).asText().equals(value)) found[0] = o;
      }
      return found[0] != null;
    });
    return found[0];
  }

  private static HttpResponse<String> send(String method, String path, String body, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.base + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (headers.length > 0) b.headers(headers);
    return server.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A chat completion whose {@code X-Request-Id} is {@code requestId} as UTF-8 bytes, as curl sends it. */
  private static RawExchange chatNamed(String requestId) throws Exception {
    String utf8 = new String(requestId.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    return RawExchange.send(server, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + KEY
        + "\r\nContent-Type: application/json\r\nX-Request-Id: " + utf8 + "\r\nContent-Length: " + CHAT.length()
        + "\r\nConnection: close\r\n\r\n" + CHAT);
  }

  private static boolean isFreshId(String id) {
    return id.matches("[0-9a-f]{32}");
  }

  // a header that cannot come back as it came

  @Test
  void aRequestIdHeaderOutsidePrintableAsciiIsAnsweredWithTheCompletionsOwnIdNeverAMangledOne() throws Exception {
    for (String sent : new String[] {"héllo-✓", "日本", "z\u010d\u010aSet-Cookie:evil=1"}) {
      RawExchange r = chatNamed(sent);
      assertEquals(200, r.status(), sent + ": " + r.head() + r.body());
      String id = JSON.readTree(r.body()).path("id").asText();
      assertTrue(id.matches("chatcmpl-[0-9a-f]{32}"), "such a header names no completion: " + id);
      assertEquals(Optional.of(id), r.header("X-Request-Id"), r.head());
      assertFalse(r.head().contains("Set-Cookie"), r.head());
      assertTrue(r.head().chars().allMatch(c -> c == '\r' || c == '\n' || (c >= 0x20 && c <= 0x7e)),
          "a head of printable ASCII: " + r.head());
    }
  }

  // a header the log keeps

  @Test
  void theRequestLogKeepsTheClientsHeaderBesideTheIdOfWhatItCouldNotName() throws Exception {
    HttpResponse<String> spaced = send("POST", "/v1/chat/completions", CHAT, "Authorization", "Bearer " + KEY,
        "Content-Type", "application/json", "X-Request-Id", "two words");
    assertEquals("two words", spaced.headers().firstValue("X-Request-Id").orElseThrow(), "echoed as it came");
    JsonNode line = logged(JSON.readTree(spaced.body()).path("id").asText());
    assertEquals("two words", line.path("request_id").asText(), line.toString());

    String longer = "a".repeat(300);
    HttpResponse<String> tooLong = send("GET", "/v1/models", null, "Authorization", "Bearer " + KEY, "X-Request-Id", longer);
    assertEquals(longer, tooLong.headers().firstValue("X-Request-Id").orElseThrow(), "echoed as it came");
    JsonNode models = loggedWhere("path", "/v1/models");
    assertEquals("a".repeat(256) + "...", models.path("request_id").asText(), "clipped: " + models);

    RawExchange accented = chatNamed("héllo-✓");
    JsonNode accentedLine = logged(accented.header("X-Request-Id").orElseThrow());
    assertEquals("h\\u00e9llo-\\u2713", accentedLine.path("request_id").asText(), "in ASCII: " + accentedLine);
    RawExchange lowBytesCrLf = chatNamed("z\u010d\u010aSet-Cookie:evil=1");
    JsonNode crLfLine = logged(lowBytesCrLf.header("X-Request-Id").orElseThrow());
    assertEquals("z\\u010d\\u010aSet-Cookie:evil=1", crLfLine.path("request_id").asText(), crLfLine.toString());
  }

  @Test
  void aNamedCompletionRefusedBeforeItBeganIsLoggedUnderTheIdItWouldHaveHad() throws Exception {
    HttpResponse<String> refused = send("POST", "/v1/chat/completions", "{\"messages\":[]}", "Authorization",
        "Bearer " + KEY, "Content-Type", "application/json", "X-Request-Id", "refused-1");
    assertEquals(400, refused.statusCode(), refused.body());
    JsonNode line = logged("chatcmpl-refused-1");
    assertEquals(400, line.path("status").asInt(), line.toString());
    assertEquals("refused-1", line.path("request_id").asText(), line.toString());
    assertTrue(line.path("session_id").isMissingNode(), "no session began: " + line);

    HttpResponse<String> bodyNamed = send("POST", "/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":-1,"
        + "\"request_id\":\"refused-2\"}", "Authorization", "Bearer " + KEY, "Content-Type", "application/json");
    assertEquals(400, bodyNamed.statusCode(), bodyNamed.body());
    assertEquals(400, logged("cmpl-refused-2").path("status").asInt());
  }

  @Test
  void twoCompletionsOfOneNameAreLoggedUnderItEachWithItsOwnSessionsId() throws Exception {
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> served = send("POST", "/v1/chat/completions", CHAT, "Authorization", "Bearer " + KEY,
          "Content-Type", "application/json", "X-Request-Id", "same-name");
      assertEquals(200, served.statusCode(), served.body());
      assertEquals("chatcmpl-same-name", JSON.readTree(served.body()).path("id").asText());
    }
    TestServer.eventually("two lines of chatcmpl-same-name", () -> linesWhere("id", "chatcmpl-same-name").size() == 2);
    List<JsonNode> both = linesWhere("id", "chatcmpl-same-name");
    for (JsonNode line : both)
      assertTrue(line.path("session_id").asText().matches("chatcmpl-[0-9a-f]{32}"), "the session's own id: " + line);
    assertFalse(both.get(0).path("session_id").equals(both.get(1).path("session_id")), both.toString());
  }

  /** Every request log line so far whose {@code field} is {@code value}. */
  private List<JsonNode> linesWhere(String field, String value) throws Exception {
    List<String> all;
    synchronized (lines) {
      all = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
    List<JsonNode> found = new java.util.ArrayList<>();
    for (String line : all) {
      JsonNode o = JSON.readTree(line);
      if (o.path(field).asText().equals(value)) found.add(o);
    }
    return found;
  }

  @Test
  void anAnswerWithoutAClientsHeaderIsNamedAsItsLogLine() throws Exception {
    HttpResponse<String> models = send("GET", "/v1/models", null, "Authorization", "Bearer " + KEY);
    String id = models.headers().firstValue("X-Request-Id").orElseThrow();
    assertTrue(isFreshId(id), id);
    assertEquals("/v1/models", logged(id).path("path").asText());
  }

  // answers made before any route

  @Test
  void corsPreflightsAllowedOrRefusedHaveOne() throws Exception {
    HttpResponse<String> allowed = send("OPTIONS", "/v1/chat/completions", null, "Origin", PAGE,
        "Access-Control-Request-Method", "POST");
    assertEquals(200, allowed.statusCode(), allowed.body());
    assertTrue(isFreshId(allowed.headers().firstValue("X-Request-Id").orElse("")), allowed.headers().toString());
    HttpResponse<String> refused = send("OPTIONS", "/v1/chat/completions", null, "Origin", "http://elsewhere.example",
        "Access-Control-Request-Method", "POST", "X-Request-Id", "page-7");
    assertEquals(400, refused.statusCode(), refused.body());
    assertEquals(Optional.of("page-7"), refused.headers().firstValue("X-Request-Id"), refused.headers().toString());
  }

  @Test
  void optionsAsteriskFromAPageHasOne() throws Exception {
    for (String preflight : new String[] {"", "Access-Control-Request-Method: POST\r\n"}) {
      RawExchange r = RawExchange.send(server, "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: " + PAGE + "\r\n" + preflight
          + "Connection: close\r\n\r\n");
      assertEquals(200, r.status(), r.head());
      assertTrue(isFreshId(r.header("X-Request-Id").orElse("")), r.head());
    }
  }

  /**
   * akka-http answers these before any route, without the request: the answer's id is a fresh one,
   * and the log's line for it (status and error, no method or path) has it.
   */
  @Test
  void requestsAkkaHttpCannotParseHaveOneTheLogNames() throws Exception {
    String host = "Host: 127.0.0.1\r\n";
    String[] unparsable = {"GARBAGE\r\n\r\n", "GET /v1/models HTTP/1.1\r\n" + host + "Content-Length: x\r\n\r\n",
        "GET /" + "a".repeat(3000) + " HTTP/1.1\r\n" + host + "\r\n",
        "GET /v1/models HTTP/1.1\r\n" + host + "X-Big: " + "b".repeat(20_000) + "\r\n\r\n",
        "GET /v1/models HTTP/9.9\r\n" + host + "\r\n"};
    int[] statuses = {400, 400, 414, 431, 400};
    for (int i = 0; i < unparsable.length; i++) {
      RawExchange r = RawExchange.send(server, unparsable[i]);
      String what = unparsable[i].substring(0, Math.min(40, unparsable[i].length())).replace("\r\n", "\\r\\n");
      assertEquals(statuses[i], r.status(), what + ": " + r.head());
      String id = r.header("X-Request-Id").orElse("");
      assertTrue(isFreshId(id), what + ": " + r.head());
      JsonNode line = logged(id);
      assertEquals(statuses[i], line.path("status").asInt(), line.toString());
      assertTrue(line.path("error").asText().startsWith("the request could not be read"), line.toString());
      assertFalse(line.has("method"), line.toString());
    }
  }
}
