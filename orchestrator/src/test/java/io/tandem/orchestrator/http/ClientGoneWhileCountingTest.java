package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.testkit.typed.javadsl.TestProbe;
import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * A client that closes its connection while its prompt is being counted is logged and counted as
 * 499 (nginx's "client closed request"), as one that leaves later is: the count's 503 at {@code
 * tandem.http.count-timeout} went to nobody, and was counted as the server's failure.
 */
class ClientGoneWhileCountingTest {

  @Test
  void aClientThatLeftWhileItsPromptWasCountedIs499Not503() throws Exception {
    try (TestServer server = TestServer.start("tandem.http.count-timeout = 1s\n")) {
      TestProbe<WorkerProtocol.CountTokens> asked = onlyASilentLargeWorker(server);
      double left = server.count("tandem:http_responses_total{status=\"499\"}");
      double unavailable = server.count("tandem:http_responses_total{status=\"503\"}");
      String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"large\"}}";
      Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
      ListAppender<ILoggingEvent> lines = new ListAppender<>();
      lines.start();
      requests.addAppender(lines);
      try {
        try (java.net.Socket socket = send(server, "/v1/chat/completions", body)) {
          // Closed once the prompt is being counted, before the count's time-out (closed with the bytes
          // still in flight, the request may never reach the routes: then nothing is answered at all).
          asked.expectMessageClass(WorkerProtocol.CountTokens.class, Duration.ofSeconds(20));
        }
        eventually("the request ended as the client's leaving",
            () -> server.count("tandem:http_responses_total{status=\"499\"}") == left + 1);
        // Its log line says so as the line of a client that leaves later does, and as /metrics counts it (abort).
        String line;
        synchronized (lines) { // the appender writes under its own lock
          line = lines.list.stream().map(ILoggingEvent::getFormattedMessage).filter(l -> l.contains("\"status\":499"))
              .findFirst().orElse("none");
        }
        assertTrue(line.contains("\"finish_reason\":\"cancelled\""), line);
      } finally {
        requests.detachAppender(lines);
      }
      eventually("counted as an abort", () -> server.count("tandem:request_success_total{finished_reason=\"abort\"}") == 1.0);
      assertEquals(unavailable, server.count("tandem:http_responses_total{status=\"503\"}"), "no 503 went to nobody");
    }
  }

  /**
   * {@code /tokenize} is a count and nothing else: a client that leaves while it runs is logged and
   * counted as 499 when it leaves, not when the worker answers (a 200 to nobody) or the count times
   * out (a 503 turned 499 a minute later).
   */
  @Test
  void aClientThatLeftWhileTokenizingIs499AtOnce() throws Exception {
    try (TestServer server = TestServer.start("tandem.http.count-timeout = 60s\ntandem.http.default-mode = large\n")) {
      TestProbe<WorkerProtocol.CountTokens> asked = onlyASilentLargeWorker(server);
      double left = server.count("tandem:http_responses_total{status=\"499\"}");
      try (java.net.Socket socket = send(server, "/tokenize", "{\"prompt\":\"hi\"}")) {
        // Closed once the count has begun; the worker never answers, and the count's time-out is a minute away.
        asked.expectMessageClass(WorkerProtocol.CountTokens.class, Duration.ofSeconds(20));
      }
      eventually("the request ended as the client's leaving",
          () -> server.count("tandem:http_responses_total{status=\"499\"}") == left + 1);
    }
  }

  /**
   * A count whose client left is called off: its worker is told to drop it if it has not begun it.
   * Counts nobody reads ran all the same, one at a time on the worker's long-prompt queue: a
   * tester's four cut 1 MB {@code /tokenize} requests made a live client's count time out.
   */
  @Test
  void aTokenizeWhoseClientLeftIsCalledOffOnTheWorker() throws Exception {
    calledOffWhenTheClientLeaves("/tokenize", "{\"prompt\":\"hi\"}", server -> {});
  }

  /** As {@link #aTokenizeWhoseClientLeftIsCalledOffOnTheWorker}, for a chat whose prompt is being counted. */
  @Test
  void aChatWhoseClientLeftWhileItsPromptWasCountedIsCalledOffOnTheWorker() throws Exception {
    calledOffWhenTheClientLeaves("/v1/chat/completions",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"large\"}}",
        server -> {
          // Counted as a request whose client leaves later is: cancelled, and ended by an abort (vLLM's word).
          assertEquals(1.0, server.count("tandem:requests_cancelled_total"));
          assertEquals(1.0, server.count("tandem:request_success_total{finished_reason=\"abort\"}"));
        });
  }

  /**
   * A request refused at capacity whose client had already left is a 499, but it never ran: no
   * {@code finish_reason} in its log line (a refusal has none), as no abort counts it (tester60c:
   * such lines said {@code cancelled}, which {@code request_success_total} did not count).
   */
  @Test
  void aRequestRefusedAtCapacityWhoseClientLeftWasNotCancelled() throws Exception {
    try (TestServer server = TestServer.start("tandem.http.count-timeout = 60s\ntandem.http.default-mode = large\n"
        + "tandem.http.max-in-flight = 1\n")) {
      TestProbe<WorkerProtocol.CountTokens> asked = onlyASilentLargeWorker(server);
      String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}";
      Logger requests = (Logger) LoggerFactory.getLogger("tandem.http.requests");
      ListAppender<ILoggingEvent> lines = new ListAppender<>();
      lines.start();
      requests.addAppender(lines);
      try (java.net.Socket holder = send(server, "/v1/chat/completions", body)) {
        asked.expectMessageClass(WorkerProtocol.CountTokens.class, Duration.ofSeconds(20)); // the one slot is held
        // Each refused at once; closed at once, some are seen gone before their 503 is written (a 499).
        for (int i = 0; i < 200 && server.count("tandem:http_responses_total{status=\"499\"}") == 0; i++) {
          send(server, "/v1/chat/completions", body).close();
          if (i % 20 == 19) Thread.sleep(50);
        }
        eventually("a refusal went to a client that had left", () -> server.count("tandem:http_responses_total{status=\"499\"}") >= 1);
        List<String> left;
        synchronized (lines) { // the appender writes under its own lock
          left = lines.list.stream().map(ILoggingEvent::getFormattedMessage).filter(l -> l.contains("\"status\":499")).toList();
        }
        assertFalse(left.isEmpty(), "a 499 line");
        for (String line : left) assertFalse(line.contains("finish_reason"), line);
        assertEquals(0.0, server.count("tandem:request_success_total{finished_reason=\"abort\"}"));
      } finally {
        requests.detachAppender(lines);
      }
    }
  }

  /** What a test checks of the server once its client has left. */
  interface AfterLeaving {
    void check(TestServer server) throws Exception;
  }

  private static void calledOffWhenTheClientLeaves(String path, String body, AfterLeaving afterLeaving) throws Exception {
    try (TestServer server = TestServer.start("tandem.http.count-timeout = 60s\ntandem.http.default-mode = large\n"
        + "tandem.http.max-in-flight = 1\n")) {
      TestProbe<WorkerProtocol.Command> worker = TestProbe.create(server.system);
      onlyALargeWorker(server, server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
        if (m instanceof WorkerProtocol.CountTokens || m instanceof WorkerProtocol.CancelCount) worker.getRef().tell(m);
        return Behaviors.same();
      }), "counts-to-the-test", Props.empty()));
      WorkerProtocol.CountTokens count;
      try (java.net.Socket socket = send(server, path, body)) {
        count = worker.expectMessageClass(WorkerProtocol.CountTokens.class, Duration.ofSeconds(20));
        worker.expectNoMessage(Duration.ofMillis(200)); // nothing is called off while the client waits
      }
      WorkerProtocol.CancelCount cancel = worker.expectMessageClass(WorkerProtocol.CancelCount.class, Duration.ofSeconds(20));
      assertEquals(count.replyTo(), cancel.replyTo(), "the count called off is the client's");
      // The request, and the server's one slot, end when the count is called off, not at its time-out a
      // minute later: a tester's tenant got 429s for the whole count-timeout after its clients left.
      eventually("the request ended as the client's leaving",
          () -> server.count("tandem:http_responses_total{status=\"499\"}") == 1);
      afterLeaving.check(server);
      try (java.net.Socket next = send(server, path, body)) {
        worker.expectMessageClass(WorkerProtocol.CountTokens.class, Duration.ofSeconds(20)); // admitted: the slot was free
      }
    }
  }

  /** Sends a POST of {@code body} to {@code path} on a connection of its own, left open. */
  private static java.net.Socket send(TestServer server, String path, String body) throws java.io.IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    java.net.Socket socket = new java.net.Socket("127.0.0.1", java.net.URI.create(server.base).getPort());
    socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
    socket.getOutputStream().write(bytes);
    return socket;
  }

  /**
   * Replaces the server's large workers with one that never answers a count; the returned probe gets
   * each count it is asked for, so that a test's client leaves once its count has begun (a client
   * that closes with its request's bytes still in flight may never reach the routes at all).
   */
  private static TestProbe<WorkerProtocol.CountTokens> onlyASilentLargeWorker(TestServer server) throws Exception {
    TestProbe<WorkerProtocol.CountTokens> asked = TestProbe.create(server.system);
    onlyALargeWorker(server, server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.CountTokens c) asked.getRef().tell(c);
      return Behaviors.same();
    }), "silent-large", Props.empty()));
    return asked;
  }

  /** Replaces the server's large workers with {@code silent}, which the test answers for, or not. */
  private static void onlyALargeWorker(TestServer server, ActorRef<WorkerProtocol.Command> silent) throws Exception {
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), silent));
    eventually("the silent worker is listed", () -> WorkerCountTimeoutTest.largeWorkers(server).contains(silent));
    for (ActorRef<WorkerProtocol.Command> w : WorkerCountTimeoutTest.largeWorkers(server))
      if (!w.equals(silent)) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the silent worker is listed", () -> WorkerCountTimeoutTest.largeWorkers(server).equals(Set.of(silent)));
  }
}
