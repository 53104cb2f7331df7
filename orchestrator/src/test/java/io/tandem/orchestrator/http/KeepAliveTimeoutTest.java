package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A connection with no request in flight closes after {@code tandem.http.keep-alive-timeout}, as
 * vLLM's server closes idle keep-alive connections: a tester's 1,030 silent connections (and one
 * sending its headers a byte a second) used up akka-http's max-connections for an hour, and new
 * clients waited unanswered. A request in flight, however long, keeps its connection.
 */
class KeepAliveTimeoutTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.keep-alive-timeout = 1s\n");

  /** Opens a connection whose reads give up after 20 s: far past the keep-alive timeout. */
  private static Socket connect() throws Exception {
    Socket socket = new Socket("127.0.0.1", java.net.URI.create(server.base).getPort());
    socket.setSoTimeout(20_000);
    return socket;
  }

  @Test
  void aConnectionThatSendsNothingIsClosed() throws Exception {
    try (Socket socket = connect()) {
      long t0 = System.nanoTime();
      assertEquals(-1, socket.getInputStream().read(), "closed without an answer");
      assertTrue(System.nanoTime() - t0 >= 900_000_000L, "not before the keep-alive timeout");
    }
  }

  @Test
  void aRequestHeadSentSlowerThanTheTimeoutIsCut() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write("GET /health/live HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII));
      assertEquals(-1, socket.getInputStream().read(), "the head never ended: closed");
    }
  }

  @Test
  void aKeepAliveConnectionIsClosedOnceItsAnswerIsSentAndNothingFollows() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 200 OK"), all);
    }
  }

  /**
   * A body whose Content-Length is over the limit is read before its 413, so that a client that
   * sends it whole then reads the answer gets the 413, not a connection reset under its last bytes.
   */
  @Test
  void aClientThatSendsABodyOverTheLimitWholeReadsIts413() throws Exception {
    byte[] body = ("{\"model\":\"tandem\",\"x\":\"" + "a".repeat(3_000_000) + "\"}").getBytes(StandardCharsets.UTF_8);
    try (Socket socket = connect()) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().write(body);
      socket.getOutputStream().flush();
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 413 "), all);
      assertTrue(all.contains("tandem.http.max-body-size"), all);
    }
  }

  /**
   * A chunked body over the limit is read to its end before its 413 too: refused mid-body, its
   * connection was closed under the client, whose writes of the chunks still to send then failed
   * (a broken pipe, or a reset) and which never read the answer.
   */
  @Test
  void aClientThatSendsAChunkedBodyOverTheLimitWholeReadsIts413() throws Exception {
    byte[] chunk = "a".repeat(64 * 1024).getBytes(StandardCharsets.US_ASCII);
    try (Socket socket = connect()) {
      java.io.OutputStream out = socket.getOutputStream();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Transfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      byte[] head = "{\"model\":\"tandem\",\"x\":\"".getBytes(StandardCharsets.US_ASCII);
      out.write((Integer.toHexString(head.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(head);
      out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      // 8 MiB in all: far more than the socket buffers hold, so writing it needs the server reading it.
      for (int i = 0; i < 128; i++) {
        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(chunk);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      out.write("3\r\n\"}\n\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 413 "), all);
      assertTrue(all.contains("tandem.http.max-body-size"), all);
    }
  }

  /**
   * A compressed chunked body over the limit as sent is the limit's 413 too: akka-http's decoder
   * reported it as an encoding that is corrupt (a 400 telling the client to fix its gzip).
   */
  @Test
  void aCompressedChunkedBodyOverTheLimitAsSentIsA413() throws Exception {
    byte[] noise = new byte[1_500_000];
    new java.util.Random(3).nextBytes(noise);
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream zip = new java.util.zip.GZIPOutputStream(gz)) {
      zip.write(noise); // random bytes do not shrink: well over the 1 MiB limit as sent
    }
    byte[] body = gz.toByteArray();
    try (Socket socket = connect()) {
      java.io.OutputStream out = socket.getOutputStream();
      out.write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      for (int at = 0; at < body.length; at += 65536) {
        int n = Math.min(65536, body.length - at);
        out.write((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body, at, n);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 413 "), all);
      assertTrue(all.contains("tandem.http.max-body-size"), all);
    }
  }

  /** A client that waits for 100 Continue before sending a body over the limit gets its 413 at once, never a 100. */
  @Test
  void aClientWaitingFor100ContinueGetsIts413WithoutSendingTheBody() throws Exception {
    try (Socket socket = connect()) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Expect: 100-continue\r\nContent-Length: 3000000\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 413 "), all);
    }
  }

  /**
   * A 413 for a compressed body (refused by what it decodes to) closes its connection and says so:
   * without {@code Connection: close} a client reused it for its next request and got nothing back.
   */
  @Test
  void aBodyRefusedAsTooLargeClosesItsConnectionSayingSo() throws Exception {
    java.io.ByteArrayOutputStream gz = new java.io.ByteArrayOutputStream();
    try (java.util.zip.GZIPOutputStream out = new java.util.zip.GZIPOutputStream(gz)) {
      out.write(("{\"model\":\"tandem\",\"x\":\"" + "a".repeat(3_000_000) + "\"}").getBytes(StandardCharsets.UTF_8));
    }
    byte[] body = gz.toByteArray();
    try (Socket socket = connect()) {
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Encoding: gzip\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().write(body);
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 413 "), all);
      assertTrue(all.contains("\r\nConnection: close\r\n"), all);
    }
  }

  /** A stream held at the model for longer than the timeout runs to its end; then the idle connection closes. */
  @Test
  void aRequestInFlightLongerThanTheTimeoutKeepsItsConnection() throws Exception {
    String body = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,"
        + "\"stream\":true,\"temperature\":0}";
    server.gate.close();
    try (Socket socket = connect()) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      socket.getOutputStream().write(bytes);
      TestServer.eventually("the request reached the model", () -> server.gate.held() > 0);
      // Time passes beyond the keep-alive timeout with the request in flight (nothing is awaited here).
      Thread.sleep(2_500);
      server.gate.open();
      InputStream in = socket.getInputStream();
      String all = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(all.startsWith("HTTP/1.1 200 OK"), all);
      assertTrue(all.contains("data: [DONE]"), "the stream ran to its end: " + all);
    } finally {
      server.gate.open();
    }
  }
}
