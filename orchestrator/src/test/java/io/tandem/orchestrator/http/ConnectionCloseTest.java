package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A client that asks the server to close the connection after its request ({@code Connection:
 * close}, as Python's {@code urllib} sends, or HTTP/1.0 without keep-alive) has sent everything it
 * will send, and still reads the answer: its stream runs to its end. akka-http ends the stream of
 * requests on such a connection as soon as the request is read, which is not the client leaving.
 */
class ConnectionCloseTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  static final String BODY = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,"
      + "\"stream\":true,\"temperature\":0}";

  @Test
  void aStreamOnAConnectionTheClientAskedToCloseRunsToItsEnd() throws Exception {
    for (String version : new String[] {"HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close", "HTTP/1.0"}) {
      String raw = "POST /v1/chat/completions " + version + "\r\nContent-Type: application/json\r\nContent-Length: "
          + BODY.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + BODY;
      server.gate.close();
      CompletableFuture<RawExchange> answer = CompletableFuture.supplyAsync(() -> {
        try {
          return RawExchange.send(server, raw);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      try {
        // The session's first model step waits at the gate, long after the request was read (or the
        // answer is already complete: the stream was cut).
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (server.gate.held() == 0 && !answer.isDone()) {
          assertTrue(System.nanoTime() < deadline, "no model step reached the gate");
          Thread.sleep(5);
        }
      } finally {
        server.gate.open();
      }
      RawExchange r = answer.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.status(), r.head());
      assertTrue(r.body().contains("\"finish_reason\":\"length\""), version + ": the stream ends with its finish reason: " + r.body());
      assertTrue(r.body().contains("data: [DONE]"), version + ": " + r.body());
    }
  }

  /**
   * A client that closes a connection it asked to be closed, after the stream's first chunk, is seen
   * as gone only a second or so later (README), and its session, which ends sooner here, runs to its
   * end: the request's usage, metrics and charge count what the session wrote, not the first chunk alone (tester57b: 11 tokens counted of an
   * answer of 276, its takeover included, that the workers wrote).
   */
  @Test
  void aStreamWhoseClientClosesAfterAskingToCloseCountsWhatItsSessionWrote() throws Exception {
    server.drain();
    double lengthBefore = finished("length"), abortBefore = finished("abort");
    server.gate.close();
    // Long enough that most of it comes after the socket's writes fail (the first write behind the close meets the reset).
    String body = BODY.replace("\"max_tokens\":6", "\"max_tokens\":120");
    try (java.net.Socket socket = sent("HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close", body)) {
      server.gate.allow(1);
      upToTheFirstChunk(socket);
    } finally {
      server.gate.open();
    }
    server.drain();
    assertEquals(lengthBefore + 1, finished("length"), "ran to max_tokens, and counted so");
    assertEquals(abortBefore, finished("abort"));
  }

  /** The requests counted as ended for {@code reason} (vLLM's request_success_total). */
  private static double finished(String reason) throws Exception {
    double n = 0;
    for (String line : server.scrape().split("\n"))
      if (line.startsWith("tandem:request_success_total{") && line.contains("finished_reason=\"" + reason + "\""))
        n += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    return n;
  }

  /**
   * A client that shuts down its sending side after a keep-alive request (a TCP half-close) counts
   * as gone, as with nginx and vLLM's server, and should it still read, the answer says what to send
   * instead; after {@code Connection: close} the same half-close gets the answer.
   */
  @Test
  void aHalfCloseAfterAKeepAliveRequestCountsAsLeavingAndTheAnswerSaysWhatToSendInstead() throws Exception {
    for (String body : new String[] {BODY.replace("\"stream\":true", "\"stream\":false"), BODY})
      halfCloseAfterAKeepAliveRequest(body);
  }

  private void halfCloseAfterAKeepAliveRequest(String body) throws Exception {
    double closedBefore = server.count("tandem:http_responses_total{status=\"499\"}");
    // The model's steps wait at the gate until the half-close is counted: without it, a quick scripted
    // answer can be complete before the server reads the end of the client's stream.
    server.gate.close();
    CompletableFuture<String> leaving = CompletableFuture.supplyAsync(() -> {
      try (java.net.Socket socket = sent("HTTP/1.1\r\nHost: 127.0.0.1", body)) {
        // Half-closed once the server has read the request (a model step waits at the gate): a FIN
        // right behind the body's last bytes is not always seen (README), and this CI saw it missed.
        TestServer.eventually("the request reached the model", () -> server.gate.held() > 0);
        socket.shutdownOutput();
        return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    try {
      TestServer.eventually("logged and counted as 499", () -> server.count("tandem:http_responses_total{status=\"499\"}")
          == closedBefore + 1);
    } finally {
      server.gate.open();
    }
    String left = leaving.get(30, TimeUnit.SECONDS);
    assertTrue(left.startsWith("HTTP/1.1 400"), left);
    assertTrue(left.contains("\"code\":\"client_closed_request\"") && left.contains("send Connection: close instead"), left);
    String answered = halfClosed("HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close", body);
    assertTrue(answered.startsWith("HTTP/1.1 200") && answered.contains("\"finish_reason\":\"length\""), answered);
    server.drain();
  }

  /**
   * A stream whose client half-closes after its first chunk (keep-alive) is cut as the client's
   * leaving, and ends with an error event saying so and {@code [DONE]}, which a client that still
   * reads takes as its end (it ended with neither); a half-close before any output is the 400.
   */
  @Test
  void aStreamCutByAHalfCloseEndsWithAnErrorEventAndDone() throws Exception {
    String all = cutByAHalfClose(BODY);
    assertTrue(!all.contains("\"usage\":{"), "not asked for: " + all);
    // Asked for, the usage of what was sent comes before the error event, as at any failure (tester50a).
    String withUsage = cutByAHalfClose(BODY.replace("\"stream\":true", "\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
    int usage = withUsage.indexOf("\"usage\":{\"prompt_tokens\":");
    assertTrue(usage > 0 && usage < withUsage.indexOf("data: {\"error\":"), withUsage);
    // Of the text it was sent, counted when the stream was cut, not before it began (tester51f: 0).
    assertTrue(!withUsage.contains("\"completion_tokens\":0,"), withUsage);
  }

  /** What a stream of {@code body} cut by a half-close after its first chunk reads to its end. */
  private static String cutByAHalfClose(String body) throws Exception {
    server.drain(); // an earlier stream's session gone, so that the one step allowed below is this stream's
    server.gate.close();
    try (java.net.Socket socket = sent("HTTP/1.1\r\nHost: 127.0.0.1", body)) {
      server.gate.allow(1);
      StringBuilder read = upToTheFirstChunk(socket);
      java.io.InputStream in = socket.getInputStream();
      socket.shutdownOutput();
      read.append(new String(in.readAllBytes(), StandardCharsets.UTF_8));
      String all = read.toString();
      assertTrue(all.startsWith("HTTP/1.1 200"), all);
      assertTrue(all.contains("data: {\"error\":") && all.contains("\"code\":\"client_closed_request\""), all);
      assertTrue(all.contains("data: [DONE]"), all);
      assertTrue(!all.contains("\"finish_reason\":\"length\""), "cut before its end: " + all);
      return all;
    } finally {
      server.gate.open();
    }
  }

  /** What the server wrote on {@code socket} up to the first chunk of its stream. */
  private static StringBuilder upToTheFirstChunk(java.net.Socket socket) throws Exception {
    StringBuilder read = new StringBuilder();
    java.io.InputStream in = socket.getInputStream();
    byte[] buffer = new byte[8192];
    while (!read.toString().contains("chat.completion.chunk")) {
      int n = in.read(buffer);
      assertTrue(n > 0, "the stream ended before its first chunk: " + read);
      read.append(new String(buffer, 0, n, StandardCharsets.UTF_8));
    }
    return read;
  }

  /** Everything the server writes to a request sent as {@code version} headers and {@code body}, then a half-close. */
  private static String halfClosed(String version, String body) throws Exception {
    try (java.net.Socket socket = sent(version, body)) {
      socket.shutdownOutput();
      return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  /** A connection to the server that has sent a chat completion request as {@code version} headers and {@code body}. */
  private static java.net.Socket sent(String version, String body) throws Exception {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    java.net.Socket socket = new java.net.Socket("127.0.0.1", java.net.URI.create(server.base).getPort());
    socket.setSoTimeout(30_000);
    socket.getOutputStream().write(("POST /v1/chat/completions " + version + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().write(bytes);
    return socket;
  }
}
