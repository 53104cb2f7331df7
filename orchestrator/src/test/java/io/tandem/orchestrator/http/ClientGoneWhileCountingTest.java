package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A client that closes its connection while its prompt is being counted is logged and counted as
 * 499 (nginx's "client closed request"), as one that leaves later is: the count's 503 at {@code
 * tandem.http.count-timeout} went to nobody, and was counted as the server's failure.
 */
class ClientGoneWhileCountingTest {

  @Test
  void aClientThatLeftWhileItsPromptWasCountedIs499Not503() throws Exception {
    try (TestServer server = TestServer.start("tandem.http.count-timeout = 1s\n")) {
      onlyASilentLargeWorker(server);
      double left = server.count("tandem:http_responses_total{status=\"499\"}");
      double unavailable = server.count("tandem:http_responses_total{status=\"503\"}");
      String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"large\"}}";
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", java.net.URI.create(server.base).getPort())) {
        socket.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().write(bytes);
      } // closed at once, before the count's time-out
      eventually("the request ended as the client's leaving",
          () -> server.count("tandem:http_responses_total{status=\"499\"}") == left + 1);
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
      onlyASilentLargeWorker(server);
      double left = server.count("tandem:http_responses_total{status=\"499\"}");
      byte[] bytes = "{\"prompt\":\"hi\"}".getBytes(StandardCharsets.UTF_8);
      try (java.net.Socket socket = new java.net.Socket("127.0.0.1", java.net.URI.create(server.base).getPort())) {
        socket.getOutputStream().write(("POST /tokenize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().write(bytes);
      } // closed at once; the worker never answers, and the count's time-out is a minute away
      eventually("the request ended as the client's leaving",
          () -> server.count("tandem:http_responses_total{status=\"499\"}") == left + 1);
    }
  }

  /** Replaces the server's large workers with one that never answers a count. */
  private static void onlyASilentLargeWorker(TestServer server) throws Exception {
    ActorRef<WorkerProtocol.Command> silent = server.system.systemActorOf(
        Behaviors.<WorkerProtocol.Command>receiveMessage(m -> Behaviors.same()), "silent-large", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), silent));
    eventually("the silent worker is listed", () -> WorkerCountTimeoutTest.largeWorkers(server).contains(silent));
    for (ActorRef<WorkerProtocol.Command> w : WorkerCountTimeoutTest.largeWorkers(server))
      if (!w.equals(silent)) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the silent worker is listed", () -> WorkerCountTimeoutTest.largeWorkers(server).equals(Set.of(silent)));
  }
}
