package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
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
  /** How long a test waits for an answer: well past the body-read-timeout, far below the idle timeout. */
  static final int ANSWER_DEADLINE_MS = 20_000;

  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.body-read-timeout = 2s\n");

  /** What the server wrote on a connection that sent {@code raw}, up to its closing it. */
  record Answer(int status, String head, JsonNode body) {
    String message() {
      return body.at("/error/message").asText();
    }
  }

  private static Answer send(String raw) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.server.port())) {
      socket.setSoTimeout(ANSWER_DEADLINE_MS);
      socket.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buf = new byte[4096];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) out.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the connection was still open " + ANSWER_DEADLINE_MS + " ms after "
            + raw.replace("\r\n", "\\r\\n") + ", with " + out.size() + " bytes of answer: " + out.toString(StandardCharsets.UTF_8));
      }
      String all = out.toString(StandardCharsets.UTF_8);
      int split = all.indexOf("\r\n\r\n");
      assertTrue(split > 0, "an HTTP answer: " + all);
      String head = all.substring(0, split);
      assertTrue(head.toLowerCase().contains("content-type: application/json"), head);
      return new Answer(Integer.parseInt(head.split(" ")[1]), head, JSON.readTree(all.substring(split + 4)));
    }
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

  /** A version akka-http does not speak keeps its 505, but is typed as the client's mistake it is. */
  @Test
  void anUnsupportedHttpVersionIsTheClientsMistake() throws Exception {
    Answer a = send("GET /v1/models HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n");
    assertEquals(505, a.status(), a.head());
    assertEquals("invalid_request_error", a.body().at("/error/type").asText(), a.body().toString());
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
