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
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A token id outside the vocabulary of the model that reads it, in a token-id prompt of {@code
 * /v1/completions} or in the {@code tokens} of {@code /detokenize}, is a 400 whose {@code param}
 * is the element its message names ({@code prompt[1]}, {@code tokens[2]}), as the README promises
 * of every refusal, not the whole field. The small role's worker here answers a count as a real
 * worker does (StepSync.count): a model of 100 tokens that names the first id outside them.
 */
class TokenIdOutsideVocabularyParamTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  @Test
  void theParamOfAnOutOfVocabularyTokenIdIsItsElement() throws Exception {
    for (ActorRef<WorkerProtocol.Command> w : smallWorkers()) w.tell(WorkerProtocol.Stop.INSTANCE);
    ActorRef<WorkerProtocol.Command> counter = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.CountTokens c) {
        String problem = null;
        for (int i = 0; c.tokenIds() != null && i < c.tokenIds().size() && problem == null; i++)
          if (c.tokenIds().get(i) < 0 || c.tokenIds().get(i) >= 100)
            problem = c.tokenIdsField() + "[" + i + "] is token id " + c.tokenIds().get(i)
                + ", outside small's vocabulary of 100 tokens (ids 0 to 99)";
        c.replyTo().tell(new WorkerProtocol.TokenCount(problem != null ? 0 : 1, problem != null ? null : "x", null, 1000, 100, problem,
            null));
      }
      if (m instanceof WorkerProtocol.Generate g)
        g.replyTo().tell(new WorkerProtocol.Failed(g.requestId(), FailureCode.INTERNAL, "this worker only counts"));
      return Behaviors.same();
    }), "counting-small", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.small), counter));
    eventually("only the counting worker is listed", () -> smallWorkers().equals(Set.of(counter)));

    JsonNode prompt = refusal(server.post("/v1/completions", "{\"prompt\":[3,500,7],\"max_tokens\":2}", null));
    assertEquals("prompt[1] is token id 500, outside small's vocabulary of 100 tokens (ids 0 to 99)", prompt.path("message").asText());
    assertEquals("prompt[1]", prompt.path("param").asText());
    // A batch of one prompt: the element is in the first prompt.
    JsonNode nested = refusal(server.post("/v1/completions", "{\"prompt\":[[3,500]],\"max_tokens\":2}", null));
    assertEquals("prompt[0][1] is token id 500, outside small's vocabulary of 100 tokens (ids 0 to 99)", nested.path("message").asText());
    assertEquals("prompt[0][1]", nested.path("param").asText());

    JsonNode tokens = refusal(server.post("/detokenize", "{\"tokens\":[3,4,100]}", null));
    assertEquals("tokens[2] is token id 100, outside small's vocabulary of 100 tokens (ids 0 to 99)", tokens.path("message").asText());
    assertEquals("tokens[2]", tokens.path("param").asText());

    // Below 0 or beyond an int, an id is measured against the model's vocabulary too, not against an int's range.
    JsonNode negative = refusal(server.post("/detokenize", "{\"tokens\":[3,-1,500]}", null));
    assertEquals("tokens[1] is token id -1, outside the model's vocabulary of 100 tokens (ids 0 to 99)", negative.path("message").asText());
    assertEquals("tokens[1]", negative.path("param").asText());
    JsonNode huge = refusal(server.post("/detokenize", "{\"tokens\":[3,4,3000000000]}", null));
    assertEquals("tokens[2] is token id 3000000000, outside the model's vocabulary of 100 tokens (ids 0 to 99)",
        huge.path("message").asText());
    JsonNode before = refusal(server.post("/detokenize", "{\"tokens\":[500,-1]}", null));
    assertEquals("tokens[0] is token id 500, outside small's vocabulary of 100 tokens (ids 0 to 99)", before.path("message").asText());
  }

  private static JsonNode refusal(HttpResponse<String> r) throws Exception {
    assertEquals(400, r.statusCode(), r.body());
    JsonNode error = new ObjectMapper().readTree(r.body()).path("error");
    assertEquals("invalid_request_error", error.path("type").asText());
    return error;
  }

  private static Set<ActorRef<WorkerProtocol.Command>> smallWorkers() throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(Role.small), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(Role.small));
  }
}
