package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.FailureCode;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code stop_token_ids} are checked against the vocabulary of the model that reads the prompt, as
 * its worker reports it with the prompt's count: an id outside it is a 400 before any session
 * starts. The scripted test models have no fixed vocabulary, so the small role's worker here is one
 * that counts every prompt as one token of a model of 100 tokens (and fails whatever it is asked to
 * generate).
 */
class StopTokenIdsVocabularyTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  @Test
  void aStopTokenIdOutsideTheReadersVocabularyIsA400() throws Exception {
    for (ActorRef<WorkerProtocol.Command> w : smallWorkers()) w.tell(WorkerProtocol.Stop.INSTANCE);
    ActorRef<WorkerProtocol.Command> counter = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.CountTokens c)
        c.replyTo().tell(new WorkerProtocol.TokenCount(1, null, null, 1000, 100, null, List.of(7)));
      // A request let through gets an answer at once, not a wait for a worker that never writes.
      if (m instanceof WorkerProtocol.Generate g)
        g.replyTo().tell(new WorkerProtocol.Failed(g.requestId(), FailureCode.INTERNAL, "this worker only counts"));
      return Behaviors.same();
    }), "counting-small", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.small), counter));
    eventually("only the counting worker is listed", () -> smallWorkers().equals(Set.of(counter)));

    HttpResponse<String> r = server.post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":2,\"stop_token_ids\":[3,100]}", null);
    assertEquals(400, r.statusCode(), r.body());
    JsonNode error = new ObjectMapper().readTree(r.body()).path("error");
    assertEquals("stop_token_ids[1] is token id 100, outside the model's vocabulary of 100 tokens (ids 0 to 99)",
        error.path("message").asText());
    assertEquals("stop_token_ids[1]", error.path("param").asText(), "the element at fault, as for a negative id");
    assertEquals("invalid_request_error", error.path("type").asText());
  }

  private static Set<ActorRef<WorkerProtocol.Command>> smallWorkers() throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(Role.small), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(Role.small));
  }
}
