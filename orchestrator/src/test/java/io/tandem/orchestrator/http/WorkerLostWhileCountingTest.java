package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.http.HttpResponse;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker that stops before it counts a prompt and says why ({@link WorkerProtocol.TokenCount#lost}:
 * an engine worker whose engine went away while its tokenizer was asked) gets the request a 503 at
 * once naming what was lost, not after {@code tandem.http.count-timeout} as from a silent worker. The
 * losing worker here is an actor listed under the large role that answers each count so.
 */
class WorkerLostWhileCountingTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.count-timeout = 60s\n");

  private static final String LARGE = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
      + "\"tandem\":{\"mode\":\"large\"}}";

  @Test
  void aWorkerThatStopsBeforeCountingIsA503AtOnceSayingWhy() throws Exception {
    Set<ActorRef<WorkerProtocol.Command>> real = WorkerCountTimeoutTest.largeWorkers(server);
    ActorRef<WorkerProtocol.Command> losing = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.CountTokens c)
        c.replyTo().tell(WorkerProtocol.TokenCount.workerLost("its engine was lost (engine 127.0.0.1:9 unreachable)"));
      return Behaviors.same();
    }), "losing-large", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), losing));
    for (ActorRef<WorkerProtocol.Command> w : real) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the losing worker is listed", () -> WorkerCountTimeoutTest.largeWorkers(server).equals(Set.of(losing)));

    HttpResponse<String> refused = server.post("/v1/chat/completions", LARGE, null);
    assertEquals(503, refused.statusCode(), refused.body());
    // As long as a request that finds no worker is told to wait: a retry a second later would be one (tester48h).
    long workerWait = (server.system.settings().config().getDuration("tandem.session.worker-wait").toMillis() + 999) / 1000;
    assertEquals(String.valueOf(Math.max(1, workerWait)), refused.headers().firstValue("Retry-After").orElse("none"));
    assertEquals("the server cannot serve this request now: the large worker could not count the prompt: its"
        + " engine was lost (engine 127.0.0.1:9"
        + " unreachable); retry the request", new ObjectMapper().readTree(refused.body()).at("/error/message").asText());
  }
}
