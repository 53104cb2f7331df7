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
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A worker that never answers (a process that died before the cluster's failure detector finds its
 * node unreachable) does not hold up counting a prompt while another worker of the role answers;
 * when none answers, the request gets a retryable 503 after {@code tandem.http.count-timeout}, not
 * after the longer {@code ask-timeout}. The silent workers are actors listed under the large role
 * that never answer a count and pass every other message on to the real large worker, so that a
 * session that picks one still runs. A worker busy with a long model step is not silent: it counts
 * during the step.
 */
class WorkerCountTimeoutTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("tandem.http.count-timeout = 1s\ntandem.http.ask-timeout = 30s\n");

  private static final String LARGE = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,"
      + "\"tandem\":{\"mode\":\"large\"}}";
  private static final String SMALL = LARGE.replace("\"large\"", "\"small\"");

  @Test
  void aSilentWorkerIsPassedOverAndOnlySilentWorkersAreAQuick503() throws Exception {
    Set<ActorRef<WorkerProtocol.Command>> real = largeWorkers(server);
    ActorRef<WorkerProtocol.Command> worker = real.iterator().next();
    java.util.Queue<Long> timeouts = new java.util.concurrent.ConcurrentLinkedQueue<>();
    for (int i = 0; i < 2; i++) {
      ActorRef<WorkerProtocol.Command> silent = server.system.systemActorOf(Behaviors.<WorkerProtocol.Command>receiveMessage(m -> {
        if (m instanceof WorkerProtocol.CountTokens c) timeouts.add(c.timeoutMillis());
        else worker.tell(m);
        return Behaviors.same();
      }), "silent-large-" + i, Props.empty());
      server.system.receptionist().tell(Receptionist.register(ServiceKeys.forRole(Role.large), silent));
    }
    eventually("the silent workers are listed", () -> largeWorkers(server).size() == real.size() + 2);

    HttpResponse<String> served = server.post("/v1/chat/completions", LARGE, null);
    assertEquals(200, served.statusCode(), "the answering worker counts the prompt: " + served.body());

    for (ActorRef<WorkerProtocol.Command> w : real) w.tell(WorkerProtocol.Stop.INSTANCE);
    eventually("only the silent workers are listed", () -> largeWorkers(server).size() == 2);
    String errors = "tandem:request_success_total{finished_reason=\"error\"}";
    double errorsBefore = server.count(errors);
    long start = System.nanoTime();
    HttpResponse<String> refused = server.post("/v1/chat/completions", LARGE, null);
    double seconds = (System.nanoTime() - start) / 1e9;
    assertEquals(503, refused.statusCode(), refused.body());
    assertTrue(refused.headers().firstValue("Retry-After").isPresent(), "retryable");
    String message = new ObjectMapper().readTree(refused.body()).at("/error/message").asText();
    assertTrue(message.endsWith("none of the 2 large workers counted the prompt within 1 s (tandem.http.count-timeout):"
        + " a worker that does not answer is counting long prompts sent before this one (one at a time), or stopped or"
        + " stalled"), message);
    assertTrue(seconds < 30, "bounded by count-timeout, not ask-timeout: " + seconds + " s");
    // The server failed the request (as a session's failure counts), though no session started.
    eventually("counted as an error", () -> server.count(errors) == errorsBefore + 1);
    assertEquals(java.util.List.of(1000L, 1000L, 1000L, 1000L), java.util.List.copyOf(timeouts),
        "each count says how long its asker waits, so that a worker drops one nobody reads");

    // While this node's engine of the role is silent (its health check unanswered), the count's 503 says so rather than
    // blaming long prompts, and a retry waits as long as one that finds no worker (tester49d: a SIGSTOPped engine gave
    // Retry-After 1 in words about counting in the worker's process).
    var health = io.tandem.protocol.worker.EngineHealth.get(server.system);
    health.silent(Role.large, "127.0.0.1:9/demo-large", "this node's large engine 127.0.0.1:9 did not answer its last"
        + " health check within tandem.engine.health-timeout (stalled or busy)");
    try {
      HttpResponse<String> silentEngine = server.post("/v1/chat/completions", LARGE, null);
      assertEquals(503, silentEngine.statusCode(), silentEngine.body());
      String silentMessage = new ObjectMapper().readTree(silentEngine.body()).at("/error/message").asText();
      assertTrue(silentMessage.endsWith("none of the 2 large workers counted the prompt within 1 s (tandem.http.count-timeout):"
          + " this node's large engine 127.0.0.1:9 did not answer its last health check within tandem.engine.health-timeout"
          + " (stalled or busy); retry the request"), silentMessage);
      assertEquals(String.valueOf(server.system.settings().config().getDuration("tandem.session.worker-wait").toSeconds()),
          silentEngine.headers().firstValue("Retry-After").orElse("none"), silentMessage);
    } finally {
      health.silent(Role.large, "127.0.0.1:9/demo-large", null);
    }
    // Withdrawn meanwhile (its engine silent past its health checks), the engine's problem is said instead (tester51g: a
    // count sent to the worker as it was withdrawn spoke of long prompts, Retry-After 1).
    health.report(Role.large, "127.0.0.1:9/demo-large", "engine 127.0.0.1:9 does not answer: no answer to GET /v1/models"
        + " within tandem.engine.health-timeout");
    try {
      HttpResponse<String> withdrawn = server.post("/v1/chat/completions", LARGE, null);
      assertEquals(503, withdrawn.statusCode(), withdrawn.body());
      String withdrawnMessage = new ObjectMapper().readTree(withdrawn.body()).at("/error/message").asText();
      assertTrue(withdrawnMessage.endsWith("none of the 2 large workers counted the prompt within 1 s"
          + " (tandem.http.count-timeout): this node's large engine does not serve: engine 127.0.0.1:9 does not answer: no"
          + " answer to GET /v1/models within tandem.engine.health-timeout; retry the request"), withdrawnMessage);
      assertEquals(String.valueOf(server.system.settings().config().getDuration("tandem.session.worker-wait").toSeconds()),
          withdrawn.headers().firstValue("Retry-After").orElse("none"), withdrawnMessage);
    } finally {
      health.forget(Role.large, "127.0.0.1:9/demo-large");
    }
    timeouts.clear();

    // A long prompt's count may take longer, by its length (its 200,000 characters, and the template's variables, "{}";
    // tester45a: four prompts of 900,000
    // characters at once, counted one after another, were 503s for a worker "not answering").
    timeouts.clear();
    String longPrompt = LARGE.replace("\"hi\"", "\"" + "x".repeat(200_000) + "\"");
    HttpResponse<String> slow = server.post("/v1/chat/completions", longPrompt, null);
    assertEquals(503, slow.statusCode(), slow.body());
    String slowMessage = new ObjectMapper().readTree(slow.body()).at("/error/message").asText();
    assertTrue(slowMessage.endsWith("none of the 2 large workers counted the prompt within 3 s (tandem.http.count-timeout, 1 s,"
        + " and 10 µs more for each of the prompt's 200,002 characters): a worker that does not answer is counting long prompts sent"
        + " before this one (one at a time), or stopped or stalled"), slowMessage);
    assertEquals(java.util.List.of(3000L, 3000L), java.util.List.copyOf(timeouts).subList(0, 2), "and the workers are told so");
  }

  @Test
  void aWorkerInTheMiddleOfALongModelStepStillCountsPrompts() throws Exception {
    server.gate.close();
    CompletableFuture<HttpResponse<String>> first = chatAsync(SMALL);
    eventually("the small worker's first pass (a prefill, on its step thread) waits at the gate", () -> server.gate.held() == 1);

    HttpResponse<String> tokenized = server.post("/tokenize", "{\"prompt\":\"hello\"}", null);
    assertEquals(200, tokenized.statusCode(), "the only small worker counts during its step: " + tokenized.body());
    CompletableFuture<HttpResponse<String>> second = chatAsync(SMALL);
    eventually("the second request is counted and waits at the worker for the pass to end", () -> server.scrape()
        .contains("tandem:worker_queue_length{role=\"small\",node=\"local\",worker=\"small-worker\",model_name=\"scripted-small\"} 1\n"));
    assertEquals(1, server.gate.held(), "all this during the one pass");

    server.gate.open();
    assertEquals(200, first.get(30, TimeUnit.SECONDS).statusCode());
    assertEquals(200, second.get(30, TimeUnit.SECONDS).statusCode());
  }

  @Test
  void aWorkerThatHadStoppedWhenAskedIsSaidSoAtOnceWithTheRetryAfterOfNoWorker() throws Exception {
    // Listed moments before it stopped (an engine worker withdrawn as a request came; tester50i): Akka's ask to a stopped
    // actor of this node fails at once, which was read as the count timing out, "counting long prompts", Retry-After 1.
    var probe = akka.actor.testkit.typed.javadsl.TestProbe.<Void>create(server.system);
    ActorRef<WorkerProtocol.Command> stopped = server.system.systemActorOf(Behaviors.stopped(), "stopped-large", Props.empty());
    probe.expectTerminated(stopped);
    WorkerView view = new WorkerView(server.system, server.system.systemActorOf(Behaviors.ignore(), "no-sessions",
        Props.empty()), Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofSeconds(60), Duration.ofSeconds(60), Duration.ofSeconds(5),
        Duration.ofSeconds(1));
    long start = System.nanoTime();
    var counted = view.firstCount(Role.large, Set.of(stopped), io.tandem.protocol.Prompt.raw("hi"), null, null,
        new RetryAfter(1, 10), new CompletableFuture<Void>(), false).toCompletableFuture();
    var failure = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
        () -> counted.get(30, TimeUnit.SECONDS));
    double seconds = (System.nanoTime() - start) / 1e9;
    ApiError error = (ApiError) failure.getCause();
    assertEquals("the server cannot serve this request now: the large worker could not count the prompt: worker stopped-large"
        + " had stopped when it was asked (withdrawn, or its node stopping); retry the request", error.getMessage());
    assertEquals(10, error.retryAfterSeconds(), "as a request that finds no worker");
    assertTrue(seconds < 30, "at once, not after the count timeout of 60 s: " + seconds + " s");
  }

  private static CompletableFuture<HttpResponse<String>> chatAsync(String body) {
    return server.http.sendAsync(HttpRequest.newBuilder(URI.create(server.base + "/v1/chat/completions"))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
        .timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** The large workers {@code server}'s receptionist lists. */
  static Set<ActorRef<WorkerProtocol.Command>> largeWorkers(TestServer server) throws Exception {
    Receptionist.Listing l = AskPattern.<Receptionist.Command, Receptionist.Listing>ask(server.system.receptionist(),
        reply -> Receptionist.find(ServiceKeys.forRole(Role.large), reply), Duration.ofSeconds(5),
        server.system.scheduler()).toCompletableFuture().get();
    return l.getServiceInstances(ServiceKeys.forRole(Role.large));
  }
}
