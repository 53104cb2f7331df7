package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.ActorRef;
import akka.actor.typed.Props;
import akka.actor.typed.javadsl.AskPattern;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.receptionist.Receptionist;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tandem.protocol.Role;
import io.tandem.protocol.ServiceKeys;
import io.tandem.protocol.worker.WorkerProtocol;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker that never answers (a process that died before the cluster's failure detector finds its
 * node unreachable) does not hold up counting a prompt while another worker of the role answers;
 * when none answers, the request gets a retryable 503 after {@code tandem.http.count-timeout}, not
 * after the longer {@code ask-timeout}. The silent workers are actors listed under the large role
 * that never answer a count and pass every other message on to the real large worker, so that a
 * session that picks one still runs.
 */
class WorkerCountTimeoutTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.count-timeout = 1s\ntandem.http.ask-timeout = 30s\n");

  private static final String LARGE = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
      + "\"tandem\":{\"mode\":\"large\"}}";

  @Test
  void aSilentWorkerIsPassedOverAndOnlySilentWorkersAreAQuick503() throws Exception {
    Set<ActorRef<WorkerProtocol.Command>> real = largeWorkers();
    ActorRef<WorkerProtocol.Command> worker = real.iterator().next();
    for (int i = 0; i < 2; i++) {
      ActorRef<WorkerProtocol.Command> silent = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
        if (!(m instanceof WorkerProtocol.CountTokens)) worker.tell(m);
        return Behaviors.same();
      }), "silent-large-" + i, Props.empty());
      server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), silent));
    }
    eventually("the silent workers are listed", () -> largeWorkers().size() == real.size() + 2);

    HttpResponse<String> served = server.post("/v1/chat/completions", LARGE, null);
    assertEquals(200, served.statusCode(), "the answering worker counts the prompt: " + served.body());

    for (ActorRef<WorkerProtocol.Command> w : real) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the silent workers are listed", () -> largeWorkers().size() == 2);
    long start = System.nanoTime();
    HttpResponse<String> refused = server.post("/v1/chat/completions", LARGE, null);
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(503, refused.statusCode(), refused.body());
    assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "retryable");
    String message = new ObjectMapper().readTree(refused.body()).at("/error/message").asText();
    assertTrue(message.endsWith("none of the 2 large workers counted the prompt within 1 s (tandem.http.count-timeout):"
        + " a worker that does not answer stopped, or is busy with a longer model step"), message);
    assertTrue(seconds < 30, "bounded by count-timeout, not ask-timeout: " + seconds + " s");
  }

  private static Set<ActorRef<WorkerProtocol.Command>> largeWorkers() throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(Role.large), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(Role.large));
  }
}
