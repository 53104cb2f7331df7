package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
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
 * A 429 for the tenant's share of a large worker's queue ({@code tandem.large.per-tenant-queue-limit})
 * is the tenant's own limit, as its max-concurrent 429 is: counted by status, not as a request that
 * ended in an error (tester46a: 68 such 429s raised request_success_total{finished_reason="error"},
 * which a vLLM-style error-rate alert reads as the server failing). The large worker here is an
 * actor that refuses every step so, and passes counts on to the small worker (one vocabulary).
 */
class TenantQueueShareMetricsTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.api-keys = [{key = sk-ann, tenant = ann}]\n");

  private static final String LARGE = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
      + "\"tandem\":{\"mode\":\"large\"}}";

  @Test
  void aTenantsQueueShare429IsNotCountedAsAnError() throws Exception {
    ActorRef<WorkerProtocol.Command> small = listed(Role.small).iterator().next();
    Set<ActorRef<WorkerProtocol.Command>> real = listed(Role.large);
    ActorRef<WorkerProtocol.Command> full = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
      if (m instanceof WorkerProtocol.Generate g)
        g.replyTo().tell(new WorkerProtocol.Rejected(g.requestId(), FailureCode.TENANT_QUEUE_FULL,
            "tenant 'ann' has 2 requests in the large worker's queue, its share (tandem.large.per-tenant-queue-limit 2)"));
      else if (m instanceof WorkerProtocol.CountTokens) small.tell(m);
      return Behaviors.same();
    }), "full-large", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), full));
    for (ActorRef<WorkerProtocol.Command> w : real) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the refusing worker is listed", () -> listed(Role.large).equals(Set.of(full)));

    String errors = "tandem:request_success_total{finished_reason=\"error\"}";
    String tenantErrors = "tandem:tenant_request_success_total{tenant=\"ann\",finished_reason=\"error\"}";
    String tenant429 = "tandem:tenant_http_responses_total{tenant=\"ann\",status=\"429\"}";
    String prompts = "tandem:tenant_prompt_tokens_total{tenant=\"ann\"}";
    String ran = "tandem:request_prompt_tokens_count";
    double errorsBefore = server.count(errors);
    double promptsBefore = server.count(prompts);
    double ranBefore = server.count(ran);
    HttpResponse<String> refused = server.post("/v1/chat/completions", LARGE, "sk-ann");
    assertEquals(429, refused.statusCode(), refused.body());
    assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "a 429 says when to retry, as its message does");
    HttpResponse<String> streamed = server.post("/v1/chat/completions", LARGE.replace("{\"messages\"", "{\"stream\":true,\"messages\""),
        "sk-ann");
    assertEquals(429, streamed.statusCode(), streamed.body());
    assertTrue(streamed.headers().firstValue("Retry-After").isPresent(), "streamed too: " + streamed.headers().map());
    eventually("the 429s are counted by status", () -> server.count(tenant429) == 2);
    assertEquals(errorsBefore, server.count(errors), "not an error of the server");
    assertEquals(0, server.count(tenantErrors), "nor of the tenant's requests");
    // Refused before it ran: no prompt processed (tester48c: 5 such 429s counted 105 prompt tokens).
    assertEquals(promptsBefore, server.count(prompts), "no prompt tokens processed");
    assertEquals(ranBefore, server.count(ran), "not a request that ran");
  }

  private static Set<ActorRef<WorkerProtocol.Command>> listed(Role role) throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(role), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(role));
  }
}
