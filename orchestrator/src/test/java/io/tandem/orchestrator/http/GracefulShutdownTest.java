package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.CoordinatedShutdown;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Shutting down stops taking requests and lets the running ones finish; those still running at the
 * shutdown deadline end as API answers, streaming or not, and the shutdown still completes.
 */
class GracefulShutdownTest {

  @Test
  void aRequestInFlightWhenTheServerShutsDownStillCompletes() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try (TestServer s = TestServer.start("")) {
      s.gate.close();
      HttpRequest req = HttpRequest.newBuilder(URI.create(s.base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":30}"))
          .build();
      CompletableFuture<HttpResponse<String>> inFlight = s.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
      TestServer.eventually("the request is running", () -> s.inFlight() == 1.0);
      HttpRequest models = HttpRequest.newBuilder(URI.create(s.base + "/v1/models")).timeout(Duration.ofSeconds(30)).build();
      assertEquals(200, s.http.send(models, HttpResponse.BodyHandlers.ofString()).statusCode()); // a connection kept alive

      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      // New connections are refused once the server has unbound.
      TestServer.eventually("the port is closed", () -> {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", Integer.parseInt(s.base.substring(s.base.lastIndexOf(':') + 1)))) {
          return false;
        } catch (java.io.IOException refused) {
          return true;
        }
      });
      // The request is counted once the unbinding has completed, which may come after the port closed:
      // it is held until then.
      TestServer.eventually("the shutdown counted what is in flight", () -> {
        synchronized (lines) {
          return lines.list.stream().anyMatch(e -> e.getFormattedMessage().startsWith("tandem serve: shutting down;"));
        }
      });
      // Draining, it serves no model (on the connection kept alive): a front node polling it as an engine withdraws its
      // worker (tester48e: it took the node for serving, and its fresh workers met "shutting down" through the drain).
      HttpResponse<String> listed = s.http.send(models, HttpResponse.BodyHandlers.ofString());
      assertEquals(503, listed.statusCode(), listed.body());
      assertTrue(listed.body().contains("the server is shutting down"), listed.body());
      s.gate.open();
      HttpResponse<String> r = inFlight.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"completion_tokens\":30"), r.body());
      shutdown.get(60, TimeUnit.SECONDS);
      List<String> logged;
      synchronized (lines) { // the appender writes under its own lock
        logged = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      }
      assertTrue(logged.stream().anyMatch(m -> m.startsWith("tandem serve: shutting down; 1 request in flight, given up to ")),
          logged.toString());
      assertTrue(logged.stream().anyMatch(m -> m.startsWith("tandem serve: drained in ") && m.endsWith("every request in flight has ended")),
          logged.toString());
    } finally {
      logger.detachAppender(lines);
    }
  }

  /**
   * A request whose body is still coming (or that a cold server is still parsing) has no permit yet,
   * but it is in flight: the shutdown's line counts it (a tester's log said "no request in flight"
   * while two requests sent 0.3 s before ran on to the deadline), and it is served.
   */
  @Test
  void aRequestStillBeingReadCountsAsInFlightWhenTheServerShutsDown() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
    try (TestServer s = TestServer.start("tandem.http.shutdown-deadline = 1s\n");
        java.net.Socket socket = routed(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type:"
            + " application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body.substring(0, 10))) {
      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      TestServer.eventually("the shutdown counted what is in flight", () -> {
        synchronized (lines) {
          return lines.list.stream().anyMatch(e -> e.getFormattedMessage().startsWith("tandem serve: shutting down;"));
        }
      });
      // Received before the shutdown began, it is served once its body is in (a CI run under load had
      // the routes reach it after the flag was set, and refuse it with a 503).
      socket.getOutputStream().write(body.substring(10).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      socket.getOutputStream().flush();
      socket.setSoTimeout(30_000);
      String answer = new String(socket.getInputStream().readNBytes(12), java.nio.charset.StandardCharsets.US_ASCII);
      assertTrue(answer.equals("HTTP/1.1 200"), answer);
      socket.close();
      shutdown.get(60, TimeUnit.SECONDS);
      List<String> logged;
      synchronized (lines) {
        logged = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      }
      assertTrue(logged.stream().anyMatch(m -> m.startsWith("tandem serve: shutting down; 1 request in flight, given up to ")),
          logged.toString());
    } finally {
      logger.detachAppender(lines);
    }
  }

  /**
   * A request pipelined behind one whose answer, written while the server drains, says {@code
   * Connection: close} gets no answer (akka-http writes nothing after that one): it is neither run
   * nor logged and counted as answered (a tester's request log and /metrics had a 503 for it that
   * never went out), and the server says so in its log.
   */
  @Test
  void aRequestPipelinedBehindAClosingAnswerIsNotLoggedAsAnswered() throws Exception {
    ListAppender<ILoggingEvent> server = new ListAppender<>();
    ListAppender<ILoggingEvent> requests = new ListAppender<>();
    Logger serverLog = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    Logger requestLog = (Logger) LoggerFactory.getLogger("tandem.http.requests");
    server.start();
    requests.start();
    serverLog.addAppender(server);
    requestLog.addAppender(requests);
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";
    String head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
        + body.length() + "\r\nX-Request-Id: ";
    try (TestServer s = TestServer.start("")) {
      s.gate.close();
      try (java.net.Socket socket = routed(s, head + "pipe-1\r\n\r\n" + body + head + "pipe-2\r\n\r\n" + body)) {
        CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
            .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
        TestServer.eventually("the shutdown counted what is in flight", () -> {
          synchronized (server) {
            return server.list.stream().anyMatch(e -> e.getFormattedMessage().startsWith("tandem serve: shutting down;"));
          }
        });
        s.gate.open();
        socket.setSoTimeout(30_000);
        String answers = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
        assertTrue(answers.startsWith("HTTP/1.1 200"), answers);
        assertTrue(answers.contains("chatcmpl-pipe-1") && answers.toLowerCase(java.util.Locale.ROOT).contains("connection: close"),
            answers);
        assertEquals(1, answers.split("HTTP/1.1 ", -1).length - 1, "one answer, then the close: " + answers);
        shutdown.get(60, TimeUnit.SECONDS);
      }
      List<String> logged;
      synchronized (requests) {
        logged = requests.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
      }
      assertTrue(logged.stream().anyMatch(m -> m.contains("chatcmpl-pipe-1")), logged.toString());
      assertFalse(logged.stream().anyMatch(m -> m.contains("pipe-2")), "no answer went out for it: " + logged);
      synchronized (server) {
        assertTrue(server.list.stream().anyMatch(e -> e.getFormattedMessage().equals("a request pipelined behind an answer that"
            + " closed its connection was not served: POST /v1/chat/completions (X-Request-Id pipe-2)")), server.list.toString());
      }
    } finally {
      serverLog.detachAppender(server);
      requestLog.detachAppender(requests);
    }
  }

  /**
   * A request pipelined behind a 413, which closes its connection, is not run, and no ERROR comes
   * with it (tester54c: akka-http's "Internal server error, sending 500 response" and a stack trace,
   * for a 500 that never went out, on every such request; Akka's own log is read here through SLF4J,
   * as {@code tandem serve} routes it).
   */
  @Test
  void aRequestPipelinedBehindA413IsNotServedAndLogsNoError() throws Exception {
    ListAppender<ILoggingEvent> all = new ListAppender<>();
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    all.start();
    root.addAppender(all);
    String big = "{\"prompt\":\"" + "a".repeat(1_100_000) + "\"}";
    String ok = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2}";
    String head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
        + "X-Request-Id: %s\r\n\r\n";
    try (TestServer s = TestServer.start("akka.loggers = [\"akka.event.slf4j.Slf4jLogger\"]\n"
        + "akka.logging-filter = \"akka.event.slf4j.Slf4jLoggingFilter\"\n")) {
      for (int round = 0; round < 3; round++) {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", s.server.port())) {
          socket.getOutputStream().write((String.format(head, "/v1/completions", big.length(), "big-" + round) + big
              + String.format(head, "/v1/chat/completions", ok.length(), "behind-" + round) + ok)
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          socket.setSoTimeout(30_000);
          String answers = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.US_ASCII);
          assertTrue(answers.startsWith("HTTP/1.1 413"), answers);
          assertEquals(1, answers.split("HTTP/1.1 ", -1).length - 1, "one answer, then the close: " + answers);
        }
      }
      String pipelined = "a request pipelined behind an answer that closed its connection was not served";
      TestServer.eventually("each pipelined request is said not served", () -> {
        synchronized (all) {
          return all.list.stream().filter(e -> e.getFormattedMessage().startsWith(pipelined)).count() == 3;
        }
      });
      assertEquals(0, s.server.requestsInFlight(), "none left in flight");
      assertEquals(200, s.post("/v1/chat/completions", ok, null).statusCode(), "the server serves on");
      synchronized (all) {
        assertTrue(all.list.stream().noneMatch(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.ERROR)),
            "no ERROR: " + all.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.ERROR))
                .map(ILoggingEvent::getFormattedMessage).toList());
        assertTrue(all.list.stream().noneMatch(e -> e.getFormattedMessage().contains("behind-") && !e.getFormattedMessage()
            .startsWith(pipelined)), "not run, not logged as answered: " + all.list);
      }
    } finally {
      root.detachAppender(all);
    }
  }

  /**
   * A connection to {@code s} on which {@code head} (a request's head and perhaps part of its body)
   * was written and has reached the routes, the server having had nothing else in flight.
   */
  private static java.net.Socket routed(TestServer s, String head) throws Exception {
    java.net.Socket socket = new java.net.Socket("127.0.0.1", Integer.parseInt(s.base.substring(s.base.lastIndexOf(':') + 1)));
    // The start's readiness polls answered (a streamed answer counts until its end is handed over), no other request comes.
    TestServer.eventually("the server has nothing in flight", () -> s.server.requestsInFlight() == 0);
    socket.getOutputStream().write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    socket.getOutputStream().flush();
    TestServer.eventually("the routes have the request", () -> s.server.requestsInFlight() == 1);
    return socket;
  }

  /** Shuts {@code s} down and reads the answer on {@code socket}: the API's 503 with {@code Retry-After}. */
  private static void assertShutdownsAnswer(TestServer s, java.net.Socket socket) throws Exception {
    CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
        .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
    socket.setSoTimeout(30_000);
    String answer = new String(socket.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    shutdown.get(60, TimeUnit.SECONDS);
    assertTrue(answer.startsWith("HTTP/1.1 503"), answer);
    assertTrue(answer.toLowerCase(java.util.Locale.ROOT).contains("retry-after: "), answer);
    assertTrue(answer.contains("\"message\":\"the server cannot serve this request now: the server is shutting down"), answer);
  }

  /**
   * A request whose body never comes is still answered as the API answers, when the server's
   * termination deadline passes: a 503 with {@code Retry-After} and an error object (akka-http's own
   * was an empty 503), and not logged as an internal error with a stack trace.
   */
  @Test
  void aRequestWhoseBodyNeverComesGetsTheApisAnswerAtTheShutdownDeadline() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(ApiRoutes.class);
    Logger server = (Logger) LoggerFactory.getLogger(TandemHttpServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    server.addAppender(lines);
    try (TestServer s = TestServer.start("tandem.http.shutdown-deadline = 1s\ntandem.http.shutdown-grace = 1s\n");
        java.net.Socket socket = routed(s, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            + "\r\nContent-Length: 30\r\n\r\n")) {
      assertShutdownsAnswer(s, socket);
      synchronized (lines) {
        assertTrue(lines.list.stream().noneMatch(e -> e.getFormattedMessage().contains("internal error")),
            "no internal error: " + lines.list);
        // The request is counted though it was never admitted (its body had not come).
        assertTrue(lines.list.stream().anyMatch(e -> e.getFormattedMessage().startsWith(
            "tandem serve: 1 request still running at the shutdown deadline")), "the drain counts it: " + lines.list);
      }
    } finally {
      logger.detachAppender(lines);
      server.detachAppender(lines);
    }
  }

  /**
   * A compressed body cut off at the shutdown deadline is the shutdown's 503 too, not a 400 for a
   * corrupt encoding (which the OpenAI SDKs would not retry): its decoder fails once its bytes stop.
   */
  @Test
  void aCompressedBodyCutOffAtTheShutdownDeadlineIsA503Too() throws Exception {
    java.io.ByteArrayOutputStream zipped = new java.io.ByteArrayOutputStream();
    try (var gz = new java.util.zip.GZIPOutputStream(zipped)) {
      gz.write("{\"prompt\":\"hi\",\"max_tokens\":3}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    byte[] body = zipped.toByteArray();
    try (TestServer s = TestServer.start("tandem.http.shutdown-deadline = 1s\ntandem.http.shutdown-grace = 1s\n");
        java.net.Socket socket = routed(s, "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            + "\r\nContent-Encoding: gzip\r\nContent-Length: " + body.length + "\r\n\r\n")) {
      socket.getOutputStream().write(body, 0, 4);
      socket.getOutputStream().flush();
      assertShutdownsAnswer(s, socket);
    }
  }

  @Test
  void aStreamInFlightWhenTheServerShutsDownIsWrittenToItsEnd() throws Exception {
    try (TestServer s = TestServer.start("")) {
      s.gate.close();
      HttpRequest req = HttpRequest.newBuilder(URI.create(s.base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tandem\",\"stream\":true,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":30}"))
          .build();
      CompletableFuture<HttpResponse<String>> inFlight = s.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
      TestServer.eventually("the request is running", () -> s.inFlight() == 1.0);

      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      s.gate.open();
      HttpResponse<String> r = inFlight.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"finish_reason\":\"length\""), r.body());
      assertTrue(r.body().endsWith("data: [DONE]\n\n"), r.body());
      shutdown.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void atTheDeadlineAStreamEndsWithAnErrorEventAndDoneAndARequestWithA503() throws Exception {
    Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    logged.start();
    requests.addAppender(logged);
    try (TestServer s = TestServer.start("tandem.http.shutdown-deadline = 1s\ntandem.http.shutdown-grace = 5s\n")) {
      s.gate.close();
      CompletableFuture<HttpResponse<String>> stream = s.http.sendAsync(chat(s, ",\"stream\":true"),
          HttpResponse.BodyHandlers.ofString());
      CompletableFuture<HttpResponse<String>> whole = s.http.sendAsync(chat(s, ""), HttpResponse.BodyHandlers.ofString());
      TestServer.eventually("both are running", () -> s.inFlight() == 2.0);
      // One model step at a time, until both have output (neither gets near its 60 tokens).
      while (s.metric("tandem:num_requests_waiting") > 0) {
        s.gate.allow(1);
        TestServer.eventually("the step ran", () -> s.gate.pending() == 0);
      }
      long start = System.nanoTime();
      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      // The gate stays closed: neither request can finish before the deadline.
      HttpResponse<String> streamed = stream.get(30, TimeUnit.SECONDS);
      assertEquals(200, streamed.statusCode(), streamed.body());
      assertTrue(streamed.body().contains("\"content\":"), "the text before the deadline was sent: " + streamed.body());
      assertTrue(streamed.body().contains("\"code\":\"service_unavailable\""), streamed.body());
      assertTrue(streamed.body().contains("the server is shutting down"), streamed.body());
      assertTrue(streamed.body().endsWith("data: [DONE]\n\n"), streamed.body());

      HttpResponse<String> answered = whole.get(30, TimeUnit.SECONDS);
      assertEquals(503, answered.statusCode(), answered.body());
      assertTrue(answered.headers().firstValue("Retry-After").isPresent(), answered.headers().toString());
      assertTrue(answered.body().contains("the server is shutting down"), answered.body());
      assertTrue(answered.body().contains("\"code\":\"service_unavailable\""), "as the stream's event says: " + answered.body());

      double seconds = (System.nanoTime() - start) / 1e9;
      assertTrue(seconds < 4, "both answers come at the 1 s deadline, well before the 5 s grace ends: " + seconds + " s");
      // Their sessions were cancelled; the model steps the gate still holds end once it opens.
      s.gate.open();
      shutdown.get(30, TimeUnit.SECONDS);
      // The server gave up on both, as vLLM counts what its shutdown timeout cuts: aborted, not failed.
      String metrics = TestServer.withoutModelName(s.server.metrics().render(new WorkerView.Scrape(List.of(), Map.of())));
      assertTrue(metrics.contains("tandem:request_success_total{finished_reason=\"abort\"} 2\n"), metrics);
      assertFalse(metrics.matches("(?s).*finished_reason=\"error\"} [1-9].*"), metrics);
      // The request log says so too.
      List<String> lines;
      synchronized (logged) { // the appender writes under its own lock
        lines = logged.list.stream().map(ILoggingEvent::getFormattedMessage).filter(l -> l.contains("\"finish_reason\"")).toList();
      }
      assertEquals(2, lines.size(), lines.toString());
      for (String line : lines) assertTrue(line.contains("\"finish_reason\":\"abort\""), line);
    } finally {
      requests.detachAppender(logged);
    }
  }

  private static HttpRequest chat(TestServer s, String fields) {
    return HttpRequest.newBuilder(URI.create(s.base + "/v1/chat/completions"))
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            + "\"max_tokens\":60,\"tandem\":{\"mode\":\"small\"}" + fields + "}"))
        .build();
  }
}
