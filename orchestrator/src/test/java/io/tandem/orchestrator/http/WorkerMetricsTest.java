package io.tandem.orchestrator.http;

import static io.tandem.orchestrator.http.TestServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What {@code /metrics} shows of the workers: each one's series labelled with the node it runs on
 * ({@code local} outside a cluster), how many workers of each role sessions can be given, and, as
 * Prometheus' {@code up}, whether each listed worker gave its figures to the scrape. The worker that
 * gives none here is an actor listed under the large role that never answers (as a worker whose node
 * died before the failure detector noticed, or one busy with a long model step).
 */
class WorkerMetricsTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  @Test
  void aWorkerThatGivesNoFiguresIsUpZeroWhileTheOthersFiguresStillComeAndItsSeriesGoWhenItStops() throws Exception {
    ActorRef<WorkerProtocol.Command> silent = server.system.systemActorOf(
        Behaviors.<WorkerProtocol.Command>receiveMessage(m -> m instanceof WorkerProtocol.Stop ? Behaviors.stopped() : Behaviors.same()),
        "silent-large", Props.empty());
    server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), silent));
    eventually("the silent worker is listed", () -> largeWorkers() == 2);

    List<String> lines = server.scrape().lines().toList();
    for (String up : new String[] {
        "tandem:worker_up{role=\"small\",node=\"local\",worker=\"small-worker\"} 1",
        "tandem:worker_up{role=\"large\",node=\"local\",worker=\"large-worker\"} 1",
        "tandem:worker_up{role=\"large\",node=\"local\",worker=\"silent-large\"} 0",
        "tandem:num_workers{role=\"small\"} 1",
        "tandem:num_workers{role=\"large\"} 2",
        "tandem:kv_cache_sessions{role=\"large\",node=\"local\",worker=\"large-worker\",model_name=\"scripted-large\"} 0"})
      assertTrue(lines.contains(up), "metrics have " + up + ":\n" + String.join("\n", lines));
    assertEquals(List.of("tandem:worker_up{role=\"large\",node=\"local\",worker=\"silent-large\"} 0",
            "tandem:worker_draining{role=\"large\",node=\"local\",worker=\"silent-large\"} 0"),
        lines.stream().filter(l -> l.contains("silent-large")).toList(), "no figures of a worker that gave none");

    silent.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("the stopped worker is no longer listed", () -> largeWorkers() == 1);
    String after = server.scrape();
    assertTrue(!after.contains("silent-large"), after);
    assertTrue(after.contains("tandem:num_workers{role=\"large\"} 1\n"), after);
  }

  @Test
  void aWorkerInTheMiddleOfAModelStepIsUpWithItsFigures() throws Exception {
    server.gate.close();
    CompletableFuture<HttpResponse<String>> answer = server.http.sendAsync(HttpRequest.newBuilder(
            URI.create(server.base + "/v1/chat/completions")).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\","
            + "\"content\":\"hi\"}],\"max_tokens\":5,\"tandem\":{\"mode\":\"small\"}}"))
        .build(), HttpResponse.BodyHandlers.ofString());
    eventually("the small worker's model step waits at the gate", () -> server.gate.held() == 1);

    List<String> lines = server.scrape().lines().toList();
    for (String busy : new String[] {
        "tandem:worker_up{role=\"small\",node=\"local\",worker=\"small-worker\"} 1",
        "tandem:worker_num_running{role=\"small\",node=\"local\",worker=\"small-worker\",model_name=\"scripted-small\"} 1"})
      assertTrue(lines.contains(busy), "a worker busy with a step still answers the scrape: " + busy + ":\n"
          + String.join("\n", lines));

    server.gate.open();
    assertEquals(200, answer.get(30, TimeUnit.SECONDS).statusCode());
  }

  private static int largeWorkers() throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(Role.large), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(Role.large)).size();
  }
}
