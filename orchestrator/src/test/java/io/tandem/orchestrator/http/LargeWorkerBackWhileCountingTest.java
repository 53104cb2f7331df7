package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A speculative request that found no large worker when it arrived, and whose prompt count then
 * waited (a stalled small node) while a large worker came back, is served: whether the large role
 * is absent is looked at again once the prompt is counted (tester44b: six requests were refused
 * "none is offered" a second after a large worker was, on the look taken when they arrived).
 */
class LargeWorkerBackWhileCountingTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  private static final String SPECULATIVE = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3}";

  @Test
  void aLargeWorkerBackBeforeThePromptIsCountedServesTheRequest() throws Exception {
    ActorRef<WorkerProtocol.Command> small = only(Role.small), large = only(Role.large);
    // The small role's counts are held until released; everything else reaches the real small worker.
    Queue<WorkerProtocol.CountTokens> held = new ConcurrentLinkedQueue<>();
    AtomicBoolean holding = new AtomicBoolean(true);
    ActorRef<WorkerProtocol.Command> stalled = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.CountTokens c && holding.get()) held.add(c);
      else small.tell(m);
      return Behaviors.same();
    }), "stalled-small", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.small), stalled));
    server.system.receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.small), small));
    server.system.receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.large), large));
    eventually("only the stalled small worker is listed, and no large one",
        () -> listed(Role.small).equals(Set.of(stalled)) && listed(Role.large).isEmpty());
    try {
      CompletableFuture<HttpResponse<String>> answer = server.http.sendAsync(HttpRequest.newBuilder(
              URI.create(server.base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(SPECULATIVE)).build(),
          HttpResponse.BodyHandlers.ofString());
      eventually("the prompt waits to be counted", () -> !held.isEmpty());
      server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), large));
      eventually("the large worker is listed again", () -> listed(Role.large).equals(Set.of(large)));
      holding.set(false);
      for (WorkerProtocol.CountTokens c; (c = held.poll()) != null; ) small.tell(c);
      HttpResponse<String> r = answer.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), "served by the large worker back by then: " + r.body());
      assertFalse(r.body().contains("\"degraded\":true"), r.body());
    } finally {
      holding.set(false);
      server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.small), small));
      server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), large));
      server.system.receptionist().tell(Receptionist.deregister(ServiceKeys.forRole(Role.small), stalled));
    }
  }

  private static ActorRef<WorkerProtocol.Command> only(Role role) throws Exception {
    Set<ActorRef<WorkerProtocol.Command>> workers = listed(role);
    assertEquals(1, workers.size(), role + " workers: " + workers);
    return workers.iterator().next();
  }

  private static Set<ActorRef<WorkerProtocol.Command>> listed(Role role) throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(role), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(role));
  }
}
