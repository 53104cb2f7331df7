package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.inference.LanguageModel;
import io.tandem.inference.hf.HfModel;
import io.tandem.ops.demo.DemoModels;
import io.tandem.protocol.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A request whose engine dies mid-answer, with no other worker of the role, gets a 503 that names
 * what happened to the engine, as readiness does: "the session lost its small worker" alone left
 * the client to guess (tester46d).
 */
class EngineLostMidAnswerTest {

  @Test
  void theRetryableErrorNamesTheEngineAndWhatHappenedToIt() throws Exception {
    Path small = DemoModels.dir().resolve("small");
    try (LanguageModel model = HfModel.load(small, "cpu")) {
      VllmStandIn engine = new VllmStandIn("demo-small", model);
      engine.firstToServeDies = new AtomicBoolean(); // two tokens, then the process is gone
      try (TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(small, ""), 4,
          "tandem.session.worker-wait = 1s")) {
        HttpResponse<String> r = askUntil(front, answer -> engine.died.getCount() == 0);
        assertEquals(0, engine.died.getCount(), "the engine served a request and died: " + r.body());
        assertEquals(503, r.statusCode(), r.body());
        String port = engine.baseUrl().replaceAll(".*:(\\d+)/v1", "$1");
        // What the worker saw ("its worker lost it mid-request (engine ...: ...)") or, should the endpoint's health check come
        // first, what that found ("engine ... unreachable: ...").
        assertTrue(r.body().contains("the session lost its small worker and no small worker is available to go on"), r.body());
        assertTrue(r.body().contains("; this node's small engine does not serve: "), r.body());
        assertTrue(r.body().contains("engine 127.0.0.1:" + port + " unreachable: ")
            || r.body().contains("its worker lost it mid-request (engine 127.0.0.1:" + port + ": "), r.body());
      } finally {
        engine.close();
      }
    }
  }

  /**
   * A request whose only engine answers that it is shutting down (a draining Tandem node, on a
   * connection kept alive) gets a retryable 503 that says so: it read "the server is at capacity"
   * ({@code server_overloaded}), a busy server, though the engine was going away (tester47g).
   */
  @Test
  void anEngineShuttingDownIsSaidToBeNotABusyServer() throws Exception {
    Path small = DemoModels.dir().resolve("small");
    try (LanguageModel model = HfModel.load(small, "cpu")) {
      VllmStandIn engine = new VllmStandIn("demo-small", model);
      engine.failWith = 503;
      engine.failMessage = "the server cannot serve this request now: the server is shutting down";
      try (TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(small, ""), 4)) {
        HttpResponse<String> r = askUntil(front, answer -> answer.body().contains("shutting down"));
        assertEquals(503, r.statusCode(), r.body());
        assertTrue(r.body().contains("\"code\":\"service_unavailable\""), r.body());
        assertTrue(r.body().contains("no small worker takes the step now: engine 127.0.0.1:"), r.body());
        assertTrue(r.body().contains(" is shutting down (it answered 503: "), r.body());
        assertFalse(r.body().contains("capacity"), r.body());
        // As long as for a request that finds no worker (tandem.session.worker-wait, 10 s): a retry a second later meets
        // the same engine still shutting down (tester49d: Retry-After 1 beside the 10 of the requests after it).
        assertEquals("10", r.headers().firstValue("Retry-After").orElse("none"), r.body());
      } finally {
        engine.close();
      }
    }
  }

  /**
   * Sends a chat request to {@code front} every 100 ms until {@code done} holds after one (the front
   * node takes its first request once its engine's health check has let a worker serve), for up to
   * 30 s; the last answer.
   */
  static HttpResponse<String> askUntil(TandemEngineNode front, java.util.function.Predicate<HttpResponse<String>> done)
      throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    URI chat = URI.create("http://127.0.0.1:" + front.http.port() + "/v1/chat/completions");
    HttpResponse<String> r = null;
    for (long deadline = System.nanoTime() + 30_000_000_000L; System.nanoTime() < deadline; Thread.sleep(100)) {
      r = http.send(HttpRequest.newBuilder(chat).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers
          .ofString("{\"messages\": [{\"role\": \"user\", \"content\": \"Compute 1 + 2.\"}], \"max_tokens\": 50}")).build(),
          HttpResponse.BodyHandlers.ofString());
      if (done.test(r)) break;
    }
    return r;
  }
}
