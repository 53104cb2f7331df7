package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Requests that cannot be read, as a client writing its own bytes sends them: a request line
 * akka-http cannot parse, a body that never arrives in full, chunks that are not chunks. Each gets
 * an OpenAI error object saying what was wrong, and its connection closes, however long the server's
 * idle timeout.
 */
class UnreadableRequestsTest {
  static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.body-read-timeout = 2s\ntandem.http.max-body-size = 3MiB\n"
      // akka-http's caps on a body and on what it decodes to, below the body's limit as their
      // defaults (8 MiB) are below a limit raised past them
      + "akka.http.routing.decode-max-size = 1MiB\nakka.http.server.parsing.max-content-length = 1MiB\n");

  /** What the server wrote on a connection that sent {@code raw}, up to its closing it: an error object. */
  record Answer(int status, String head, JsonNode body) {
    String message() {
      return body.at("/error/message").asText();
    }
  }

  private static Answer send(String raw) throws Exception {
    return send(raw, false);
  }

  private static Answer send(String raw, boolean halfClose) throws Exception {
    RawExchange answer = RawExchange.send(server, raw, halfClose);
    assertTrue(answer.header("Content-Type").orElse("").startsWith("application/json"), answer.head());
    return new Answer(answer.status(), answer.head(), JSON.readTree(answer.body()));
  }

  @Test
  void aRequestLineWithoutASpaceIsA400AndTheConnectionClosesAtOnce() throws Exception {
    Answer a = send("GARBAGE\r\n\r\n");
    assertEquals(400, a.status(), a.head());
    assertEquals("invalid_request_error", a.body().at("/error/type").asText(), a.body().toString());
    assertEquals("malformed_request", a.body().at("/error/code").asText(), a.body().toString());
    assertTrue(a.message().contains("request line is not METHOD TARGET HTTP/1.1"), a.message());
    assertFalse(a.message().contains("akka.http"), "no advice for the server's operator: " + a.message());
  }

  /**
   * A body that ends short of its Content-Length, its client having shut down its sending side, is
   * told so: not to send Connection: close, which it did (tester61b). Logged as 499, as a client
   * that leaves; nothing ran.
   */
  @Test
  void aBodyCutShortByAHalfCloseIsToldItsBodyEndedEarly() throws Exception {
    double before499 = server.count("tandem:http_responses_total{status=\"499\"}");
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    // A compressed body cut short too, which the decoder reports as a corrupt encoding (tester61f).
    java.io.ByteArrayOutputStream zipped = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(zipped)) {
      gz.write(body.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    String gzipStart = new String(zipped.toByteArray(), 0, 12, java.nio.charset.StandardCharsets.ISO_8859_1);
    for (String head : new String[] {"Content-Length: " + (body.length() + 10) + "\r\nConnection: close",
        "Transfer-Encoding: chunked", "Content-Encoding: gzip\r\nContent-Length: " + zipped.size()}) {
      String sent = head.startsWith("Content-Length") ? body : head.startsWith("Content-Encoding") ? gzipStart
          : Integer.toHexString(body.length()) + "\r\n" + body + "\r\n";
      Answer a = send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head
          + "\r\n\r\n" + sent, true);
      assertEquals(400, a.status(), a.head());
      assertEquals("client_closed_request", a.body().at("/error/code").asText(), a.body().toString());
      assertTrue(a.message().contains("before the request's body did") && !a.message().contains("send Connection: close"),
          a.message());
    }
    eventually("each logged as a client that left", () -> server.count("tandem:http_responses_total{status=\"499\"}")
        == before499 + 3);
  }

  /** Each such answer counts in /metrics as its log line has it, as every other answer does. */
  @Test
  void answersToRequestsThatCannotBeReadCountInTheMetrics() throws Exception {
    double before400 = server.count("tandem:http_responses_total{status=\"400\"}");
    double before405 = server.count("tandem:http_responses_total{status=\"405\"}");
    String unauthenticated400 = "tandem:tenant_http_responses_total{tenant=\"unauthenticated\",status=\"400\"}";
    double beforeUnauthenticated = server.count(unauthenticated400);
    assertEquals(400, send("GET v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status());
    assertEquals(400, send("GET /v1/models HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n").status());
    assertEquals(405, send("CONNECT x:443 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status());
    assertEquals(before400 + 2, server.count("tandem:http_responses_total{status=\"400\"}"));
    assertEquals(before405 + 1, server.count("tandem:http_responses_total{status=\"405\"}"));
    assertEquals(beforeUnauthenticated + 2, server.count(unauthenticated400),
        "answered before any key was read: the unauthenticated tenant's");
  }

  /**
   * A connection that ends before its request's head is complete sent no request: no request-log
   * line and no count, while a half-closed client that reads on is told what happened. A thousand
   * slow clients cut off at the idle timeout were a thousand 400s on /metrics (tester47b).
   */
  @Test
  void aConnectionThatEndsMidHeadIsNotCountedAsARequest() throws Exception {
    double before400 = server.count("tandem:http_responses_total{status=\"400\"}");
    RawExchange cut = RawExchange.send(server, "GET /v1/mod", true);
    assertEquals(400, cut.status(), cut.head());
    assertTrue(cut.body().contains("the connection ended before the request's head was complete"), cut.body());
    assertEquals(before400, server.count("tandem:http_responses_total{status=\"400\"}"));
  }

  /**
   * Shorter than the longest method: akka-http decides from the first byte that no method of HTTP
   * begins with, not after a method's worth of bytes that such a request never sends.
   */
  @Test
  void aRequestLineShorterThanAMethodWithoutASpaceIsA400AtOnce() throws Exception {
    for (String raw : new String[] {"GET\r\n\r\n", "X\r\n\r\n", "\r\n\r\n"}) {
      Answer a = send(raw);
      assertEquals(400, a.status(), raw + ": " + a.head());
      assertEquals("invalid_request_error", a.body().at("/error/type").asText(), a.body().toString());
      assertTrue(a.message().contains("request line is not METHOD TARGET HTTP/1.1"), a.message());
    }
  }

  /**
   * A method HTTP does not define is the client's mistake, a 400 as vLLM's server (uvicorn with
   * httptools) answers it, and so is a request line that begins with its space.
   */
  @Test
  void anUnknownMethodIsA400InvalidRequestNamingTheMethodsThereAre() throws Exception {
    for (String raw : new String[] {"GARBAGE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "FOO / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        " / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}) {
      Answer a = send(raw);
      assertEquals(400, a.status(), raw + ": " + a.head());
      assertEquals("invalid_request_error", a.body().at("/error/type").asText(), a.body().toString());
      assertEquals("malformed_request", a.body().at("/error/code").asText(), a.body().toString());
      assertTrue(a.message().contains("METHOD one of CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE"), a.message());
    }
  }

  /**
   * A raw space ends the target early, and what follows it is then no HTTP version: a request line
   * that is not METHOD TARGET HTTP/1.1, a 400 (RFC 9112, section 3), never a 505 saying the version
   * is not supported. akka-http does not say what it found after the target, so a version it does not
   * speak gets the same answer, as vLLM's server (uvicorn) gives both.
   */
  @Test
  void aRawSpaceInTheTargetOrAnotherVersionIsA400SayingTheRequestLineIsMalformed() throws Exception {
    for (String raw : new String[] {"GET /v1/mo dels HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "GET /v1/models  HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "GET /v1/models HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n"}) {
      Answer a = send(raw);
      assertEquals(400, a.status(), raw + ": " + a.head());
      assertEquals("malformed_request", a.body().at("/error/code").asText(), a.body().toString());
      assertEquals("the request could not be read: the request line is not METHOD TARGET HTTP/1.1: the target ends at"
          + " its first space, and what follows it is not HTTP/1.1 or HTTP/1.0 (the versions this server speaks);"
          + " percent-encode a space within the target as %20 (RFC 3986)", a.message());
    }
  }

  /** This server is no proxy: a CONNECT is a wrong method, as the routes answer one (405 with Allow). */
  @Test
  void aConnectIsA405SayingThisServerIsNoProxy() throws Exception {
    Answer a = send("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n");
    assertEquals(405, a.status(), a.head());
    assertEquals("method_not_allowed", a.body().at("/error/code").asText(), a.body().toString());
    assertEquals("CONNECT is not allowed: this server is no proxy and opens no tunnels; send GET, HEAD, POST, OPTIONS"
        + " to its endpoints", a.message());
    assertTrue(a.head().contains("\r\nAllow: GET, HEAD, POST, OPTIONS\r\n"), a.head());
  }

  /** HTTP/2's connection preface, sent to this HTTP/1 port by a client that assumes HTTP/2. */
  @Test
  void anHttp2PrefaceIsToldThatThisServerSpeaksHttp1() throws Exception {
    Answer a = send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assertEquals(400, a.status(), a.head());
    assertTrue(a.message().contains("this server speaks HTTP/1.1 and HTTP/1.0, not HTTP/2"), a.message());
  }

  /**
   * A header value akka-http cannot take names the header's fault and what to send (tester45a read
   * akka-http's "Illegal character 'ü' in header value" and its size limit, with nothing to do).
   */
  @Test
  void aHeaderValueThatCannotBeReadSaysWhatAHeaderMayHold() throws Exception {
    // "ü" as one byte, as Python's http.client writes a header (Latin-1).
    String key = "sk-\u00fc";
    Answer illegal = send("GET /v1/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + "\r\nConnection: close\r\n\r\n");
    assertEquals(400, illegal.status(), illegal.head());
    assertEquals("the request could not be read: Illegal character '\u00fc' in header value: this server reads a header's value"
        + " as ASCII or UTF-8 only (RFC 9110, section 5.5, leaves other bytes to the server); send header values in ASCII, or"
        + " encoded as UTF-8 (Python's http.client and Node's fetch send a string's accented letters as Latin-1 bytes: percent-encode"
        + " such a value, or send its UTF-8 bytes), and check the API key sent in Authorization", illegal.message());
    // A control character is ASCII: no word of Latin-1 or keys (tester58d).
    for (char control : new char[] {1, 0, 13}) {
      Answer c = send("GET /v1/models HTTP/1.1\r\nHost: x\r\nUser-Agent: a" + control + "b/1\r\nConnection: close\r\n\r\n");
      assertEquals(400, c.status(), c.head());
      assertEquals(String.format("the request could not be read: a header's value holds the control character 0x%02X, which no"
          + " header's value may (RFC 9110, section 5.5: a tab is the only one allowed); send the header without it",
          (int) control), c.message());
    }
    Answer del = send("GET /v1/models HTTP/1.1\r\nHost: x\r\nUser-Agent: a\u007Fb/1\r\nConnection: close\r\n\r\n");
    assertEquals(400, del.status(), del.head());
    assertEquals("the request could not be read: the header user-agent holds the control character 0x7F, which no header's value"
        + " may (RFC 9110, section 5.5: a tab is the only one allowed); send the header without it", del.message());
    Answer big = send("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + "a".repeat(100_000) + "\r\nConnection: close\r\n\r\n");
    assertEquals(431, big.status(), big.head());
    assertEquals("the request could not be read: HTTP header value exceeds the configured limit of 8192 characters; send shorter"
        + " headers (an API key, a cookie)", big.message());
    // Too many fields is the same status, 431 (RFC 6585, section 5) (tester49a: a 400).
    StringBuilder many = new StringBuilder("GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for (int i = 0; i < 100; i++) many.append("X-H").append(i).append(": v\r\n");
    Answer tooMany = send(many.append("\r\n").toString());
    assertEquals(431, tooMany.status(), tooMany.head());
    assertTrue(tooMany.message().contains("more than the configured limit of 64 headers"), tooMany.message());
  }

  /**
   * A Latin-1 byte from 0xE0 to 0xF7 in a header value (é, as Python's http.client and Node's http
   * send a str) took the line's end with it in akka-http's parser: the Content-Length after it was
   * read as part of the value, and the body ran as a request of its own, answered after a 400
   * (tester49a: request smuggling). Refused, naming the header and the byte, and the connection closed
   * before anything after it is read as a request.
   */
  @Test
  void aHeaderByteThatTookItsLinesEndIsA400ThatClosesTheConnection() throws Exception {
    String smuggled = "GET /v1/models/SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n";
    RawExchange a = RawExchange.send(server, "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "X-User: Jos\u00e9\r\nContent-Length: " + smuggled.length() + "\r\n\r\n" + smuggled);
    assertEquals(400, a.status(), a.head());
    assertEquals("close", a.header("Connection").orElse(""), a.head());
    assertFalse(a.body().contains("HTTP/1.1"), "one answer, the body run as no request: " + a.body());
    String message = JSON.readTree(a.body()).at("/error/message").asText();
    assertTrue(message.startsWith("the request could not be read: the header X-User holds the byte 0xE9, which is not UTF-8,"
        + " and a line's end"), message);
    // The last header so, before a body whose first line reads as a header: that line was taken for one, the head ended at
    // the body's blank line and what followed ran as a request (tester49g).
    RawExchange hidden = RawExchange.send(server, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
        + "\r\nX-Name: caf\u00e9\r\n\r\nX-A: b\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
    assertEquals(400, hidden.status(), hidden.head());
    assertEquals("close", hidden.header("Connection").orElse(""), hidden.head());
    assertFalse(hidden.body().contains("HTTP/1.1"), "one answer: " + hidden.body());
    assertTrue(JSON.readTree(hidden.body()).at("/error/message").asText().contains("the header X-Name ends in the byte 0xE9"),
        hidden.body());
    // The last header so, as Python's http.client sends it: the body is read as a header line, and the 400 says why.
    Answer last = send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-User: Jos\u00e9\r\n\r\n{}");
    assertEquals(400, last.status(), last.head());
    assertTrue(last.message().contains("in header name: a header's name is a token (RFC 9110, section 5.1); where the line it"
        + " is in is the request's body"), last.message());
  }

  /**
   * A Transfer-Encoding akka-http cannot read was left among the headers and the request read as one without a body,
   * which then ran as a request of its own (tester49e: "chunked;q=1" smuggled a GET /version): refused, the connection
   * closed, one answer.
   */
  @Test
  void aFramingHeaderTheServerCannotReadIsA400ThatClosesTheConnection() throws Exception {
    for (String framing : new String[] {"Transfer-Encoding: chunked;q=1", "Transfer-Encoding: \"chunked\"", "Transfer-Encoding: "}) {
      RawExchange a = RawExchange.send(server, "POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          + framing + "\r\n\r\nGET /version HTTP/1.1\r\nHost: x\r\n\r\n");
      assertEquals(400, a.status(), framing + ": " + a.head());
      assertEquals("close", a.header("Connection").orElse(""), a.head());
      assertFalse(a.body().contains("HTTP/1.1"), framing + ": one answer, the body run as no request: " + a.body());
      assertTrue(JSON.readTree(a.body()).at("/error/message").asText().contains("is not one this server can read"), a.body());
    }
    // Behind a CORS preflight, which was answered before the headers were looked at, or a target that is no path: refused
    // all the same, and the request read behind it is not run (tester49h: two 200s, a smuggled completion ran).
    double ok = server.count("tandem:http_responses_total{status=\"200\"}");
    for (String first : new String[] {"OPTIONS /v1/models HTTP/1.1\r\nOrigin: http://a\r\nAccess-Control-Request-Method: POST\r\n",
        "GET x HTTP/1.1\r\n"}) {
      RawExchange a = RawExchange.send(server, first + "Host: x\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"
          + "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
      assertEquals(400, a.status(), first + a.head());
      assertEquals("close", a.header("Connection").orElse(""), a.head());
      assertFalse(a.body().contains("HTTP/1.1"), "one answer: " + a.body());
    }
    assertEquals(ok, server.count("tandem:http_responses_total{status=\"200\"}"), "the request behind was not run");
    // Those akka-http refuses itself say what to send too (tester49f).
    Answer two = send("POST /tokenize HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n");
    assertEquals(400, two.status(), two.head());
    assertTrue(two.message().endsWith("with a 'Content-Length' of digits alone; send one of them"), two.message());
  }

  /** HTTP/1.1 requires a Host header (RFC 9112, section 3.2: a server MUST answer 400 without one). */
  @Test
  void anHttp11RequestWithoutAHostHeaderIsA400SayingWhatToSend() throws Exception {
    for (String raw : new String[] {"GET /health/live HTTP/1.1\r\n\r\n", "GET /health/live HTTP/1.1\r\nHost: a b\r\n\r\n"}) {
      Answer a = send(raw);
      assertEquals(400, a.status(), a.head());
      assertEquals("malformed_request", a.body().at("/error/code").asText(), a.body().toString());
      assertEquals("the request could not be read: an HTTP/1.1 request must have a Host header naming the server as"
          + " host or host:port (RFC 9112, section 3.2), and this one has none or one that is not so (or a header line before"
          + " it ended in a byte that is not UTF-8, which took the Host line with it); send e.g. Host: 127.0.0.1, and header"
          + " values in ASCII or encoded as UTF-8",
          a.message());
    }
  }

  @Test
  void anAbsoluteTargetNamingAnotherHostThanTheHostHeaderIsA400NamingTheTarget() throws Exception {
    Answer a = send("GET http://other.example:99/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assertEquals(400, a.status(), a.head());
    assertEquals("the request could not be read: the request target http://other.example:99/health/live does not name"
        + " the host and port its Host header names; send the same in both, or the target as a path alone (e.g."
        + " /v1/models)", a.message());
  }

  @Test
  void aTargetThatIsNotAUriIsA400NamingTheCharacterNotTheParsersRules() throws Exception {
    Answer a = send("GET /v1/models<x> HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assertEquals(400, a.status(), a.head());
    assertEquals("the request could not be read: the request target /v1/models<x> is not a URI (RFC 3986): '<' at"
        + " character 11 is not allowed there; percent-encode such characters (a space as %20, % itself as %25)", a.message());
    Answer percent = send("GET /v1/models/%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assertTrue(percent.message().contains("/v1/models/%zz is not a URI (RFC 3986): 'z' at character 13"), percent.message());
  }

  /**
   * A target without its leading {@code /} names no endpoint (RFC 9112, section 3.2.1), and the
   * answer says to send the path from it: neither a host alone (authority-form, which is CONNECT's
   * and which akka-http would route as {@code /}: the playground, or {@code /}'s methods) nor a path
   * whose first {@code /} is missing (not a character to percent-encode). An absolute URI with no
   * path is still {@code /}.
   */
  @Test
  void aTargetWithoutItsLeadingSlashIsA400SayingToSendThePathFromIt() throws Exception {
    String host = " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    for (String line : new String[] {"GET metrics", "HEAD index.html", "OPTIONS health", "POST 127.0.0.1", "GET v1%2Fmodels",
        "GET v1/models", "GET health/live"}) {
      String target = line.substring(line.indexOf(' ') + 1);
      RawExchange answer = RawExchange.send(server, line + host);
      assertEquals(400, answer.status(), line + ": " + answer.head());
      if (line.startsWith("HEAD")) continue;
      assertEquals("the request could not be read: the request target " + target + " does not begin with /; send the"
          + " endpoint's path from its leading / (RFC 9112, section 3.2.1), e.g. GET /v1/models HTTP/1.1",
          JSON.readTree(answer.body()).at("/error/message").asText(), line);
      assertEquals("malformed_request", JSON.readTree(answer.body()).at("/error/code").asText(), line);
    }
    assertEquals(200, RawExchange.send(server, "GET http://127.0.0.1" + host).status());
  }

  /**
   * Whatever akka-http's parser refuses, the client reads what was wrong with its request, not
   * akka-http's settings, Scala's {@code Some(...)} or the URI grammar's rule names.
   */
  @Test
  void noRefusalSpeaksOfAkkaHttpsOwnWorkings() throws Exception {
    String host = "Host: 127.0.0.1\r\n";
    String[] unreadable = {"GARBAGE\r\n\r\n", "GET\r\n\r\n", "FOO / HTTP/1.1\r\n" + host + "\r\n",
        " / HTTP/1.1\r\n" + host + "\r\n", "GET / HTTP/9.9\r\n" + host + "\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "GET / HTTP/1.1\r\n" + host + "Host: other\r\n\r\n",
        "GET http://other:99/ HTTP/1.1\r\n" + host + "\r\n", "GET http:// HTTP/1.1\r\n" + host + "\r\n",
        "GET /a<b> HTTP/1.1\r\n" + host + "\r\n", "GET /%zz HTTP/1.1\r\n" + host + "\r\n",
        "GET http://[bad/ HTTP/1.1\r\n" + host + "\r\n", "GET /a b HTTP/1.1\r\n" + host + "\r\n",
        "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n",
        "GET / HTTP/1.1\r\n" + host + "Content-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "GET / HTTP/1.1\r\n" + host + "Bad Header: x\r\n\r\n", "GET / HTTP/1.1\r\n" + host + "X: a\u0001b\r\n\r\n",
        "TRACE / HTTP/1.1\r\n" + host + "Content-Length: 3\r\n\r\nabc"};
    for (String raw : unreadable) {
      Answer a = send(raw);
      assertTrue(a.status() >= 400, raw + ": " + a.head());
      assertFalse(a.message().matches("(?s).*(Some\\(|None|akka|scala|Exception|pchar|HEXDIG|EOI|\\n).*"),
          raw.replace("\r\n", "\\r\\n") + ": " + a.message());
    }
  }

  /** HTTP/1.0 has no chunks: a body sent without Content-Length is none, and the answer says what to send (it said "empty" alone). */
  @Test
  void aBodyWithoutContentLengthIsEmptyAndTheAnswerSaysWhatToSend() throws Exception {
    Answer a = send("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n\r\n"
        + "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(400, a.status(), a.head());
    assertEquals("the request body is empty; send a JSON object, with a Content-Length header (or in chunks, HTTP/1.1)",
        a.message());
  }

  @Test
  void aBodyShorterThanItsContentLengthIsA408NamingTheTimeoutAndTheLength() throws Exception {
    Answer a = send("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: 100\r\n\r\n{\"messages\":");
    assertEquals(408, a.status(), a.head());
    assertEquals("request_timeout", a.body().at("/error/code").asText(), a.body().toString());
    assertEquals("the request body did not arrive in full within 2 s (tandem.http.body-read-timeout): send a body of"
        + " the length its Content-Length header says", a.message());
  }

  @Test
  void aChunkedBodyWithoutItsLastChunkIsA408SayingSo() throws Exception {
    Answer a = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"pro\r\n");
    assertEquals(408, a.status(), a.head());
    assertTrue(a.message().endsWith("(tandem.http.body-read-timeout): send every chunk and the last, empty one"), a.message());
  }

  /**
   * One chunk may be as large as the body's limit, raised here to 3 MiB (akka-http's own limit on a
   * chunk, 1 MiB, refused it with a 400 asking for smaller chunks); a chunk over the limit is a body
   * over it, the limit's 413, refused from its size line without its data being read.
   */
  @Test
  void oneChunkMayBeAsLargeAsTheBodysLimitAndOneOverItIsA413() throws Exception {
    String json = "{\"prompt\":\"hi\"}" + " ".repeat(2 << 20); // JSON may end in any amount of whitespace
    Answer big = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(json.length()) + "\r\n" + json + "\r\n0\r\n\r\n");
    assertEquals(200, big.status(), big.head() + "\n" + big.body());
    assertTrue(big.body().at("/count").asInt() > 0, big.body().toString());
    Answer over = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Transfer-Encoding: chunked\r\n\r\n" + Integer.toHexString(4 << 20) + "\r\n{\"prompt\":");
    assertEquals(413, over.status(), over.head());
    assertEquals("request_too_large", over.body().at("/error/code").asText(), over.body().toString());
    assertTrue(over.message().contains("this server's limit (tandem.http.max-body-size)"), over.message());
  }

  /**
   * A compressed body may decode to as much as the body's limit, whatever akka-http's own cap on
   * decoded bodies ({@code akka.http.routing.decode-max-size}, set below the limit here, as its
   * default of 8 MiB is below a limit raised to 20 MiB): it made such a body the limit's 413.
   */
  @Test
  void aCompressedBodyMayDecodeToTheBodysLimitWhateverAkkasDecodeCap() throws Exception {
    for (int spaces : new int[] {2 << 20, 4 << 20}) {
      java.io.ByteArrayOutputStream zipped = new java.io.ByteArrayOutputStream();
      try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(zipped)) {
        gz.write(("{\"prompt\":\"hi\"}" + " ".repeat(spaces)).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      Answer a = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
          + "Content-Encoding: gzip\r\nContent-Length: " + zipped.size() + "\r\n\r\n"
          + zipped.toString(java.nio.charset.StandardCharsets.ISO_8859_1));
      if (spaces < 3 << 20) {
        assertEquals(200, a.status(), a.head() + "\n" + a.body());
      } else {
        assertEquals(413, a.status(), a.head());
        assertTrue(a.message().startsWith("the request body, as sent or once decoded by its Content-Encoding, is larger than"
            + " 3145728 bytes, this server's limit (tandem.http.max-body-size)"), a.message());
      }
    }
  }

  /**
   * A body with a Content-Length may be as large as the body's limit, whatever akka-http's own
   * ({@code akka.http.server.parsing.max-content-length}, set below the limit here, as its default of
   * 8 MiB is below a limit raised to 20 MiB): it made such a body a 413 naming a limit it was under.
   */
  @Test
  void aBodyWithAContentLengthMayBeAsLargeAsTheBodysLimitWhateverAkkasCap() throws Exception {
    String json = "{\"prompt\":\"hi\"}" + " ".repeat(2 << 20);
    Answer a = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + "Content-Length: " + json.length() + "\r\n\r\n" + json);
    assertEquals(200, a.status(), a.head() + "\n" + a.body());
    assertTrue(a.body().at("/count").asInt() > 0, a.body().toString());
  }

  @Test
  void malformedChunksAreA400NamingTheChunksNotTheContentEncoding() throws Exception {
    Answer a = send("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Transfer-Encoding: chunked\r\n\r\nZZ\r\n{\"prompt\":\"x\"}\r\n0\r\n\r\n");
    assertEquals(400, a.status(), a.head());
    assertTrue(a.message().startsWith("the request body cannot be read: Illegal character 'Z' in chunk start"), a.message());
    assertTrue(a.message().contains("Transfer-Encoding: chunked"), a.message());
    assertFalse(a.message().contains("Content-Encoding"), "the body came with no Content-Encoding: " + a.message());
  }
}
