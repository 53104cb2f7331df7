package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.tandem.protocol.Role;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A node that serves one model as another's engine reports ready with that model's workers alone. */
class EngineNodeReadinessTest {

  @Test
  void aSmallOnlyEngineNodeIsReadyWithoutLargeWorkers() throws Exception {
    try (TandemEngineNode node = new TandemEngineNode("demo-small", Role.small, io.tandem.ops.demo.DemoModels.dir().resolve("small"), 4)) {
      HttpClient http = HttpClient.newHttpClient();
      URI ready = URI.create("http://127.0.0.1:" + node.http.port() + "/health/ready");
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      HttpResponse<String> r;
      do {
        r = http.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) break;
        Thread.onSpinWait();
      } while (System.nanoTime() < deadline);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"large\":0") && r.body().contains("\"status\":\"ready\""), r.body());
    }
  }

  /**
   * A node whose engine does not serve says why on /health/ready (tester45b read "this node's small
   * worker is still starting" of a refused key, a wrong model name, a dead engine).
   */
  @Test
  void aNodeWhoseEngineDoesNotServeSaysWhyWhenAskedIfReady() throws Exception {
    int port;
    try (java.net.ServerSocket free = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = free.getLocalPort();
    } // closed: nothing listens there
    String spec = "openai:http://127.0.0.1:" + port + "/v1?model=gone&max-model-len=100";
    try (TandemEngineNode node = new TandemEngineNode("front", Role.small, spec, 4,
        "tandem.http.default-mode = small\ntandem.session.worker-wait = 1s")) {
      HttpClient http = HttpClient.newHttpClient();
      URI ready = URI.create("http://127.0.0.1:" + node.http.port() + "/health/ready");
      String expected = "no small worker is offered (this node's small engine does not serve: engine 127.0.0.1:" + port
          + " unreachable: connection refused";
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      HttpResponse<String> r;
      do {
        r = http.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.ofString());
        if (r.body().contains(expected)) break;
        Thread.onSpinWait();
      } while (System.nanoTime() < deadline);
      assertEquals(503, r.statusCode(), r.body());
      assertTrue(r.body().contains(expected), r.body());
      // A request's 503 says so too, not only "retry once one has joined" (tester46d).
      HttpResponse<String> refused = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + node.http.port()
          + "/v1/chat/completions")).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
          "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 5}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(503, refused.statusCode(), refused.body());
      assertTrue(refused.body().contains("; this node's small engine does not serve: engine 127.0.0.1:" + port + " unreachable"),
          refused.body());
    }
  }

  /**
   * Each engine endpoint has its up series on /metrics, 1 while it serves and 0 while not: an engine
   * that does not serve has no worker, so no worker series told of it (tester45b).
   */
  @Test
  void eachEngineEndpointIsUpOrNotOnMetrics() throws Exception {
    TandemEngineNode engine = new TandemEngineNode("demo-small", Role.small, io.tandem.ops.demo.DemoModels.dir().resolve("small"), 4);
    boolean engineStopped = false;
    try (TandemEngineNode front = new TandemEngineNode("front", Role.small, engine.spec(), 4)) {
      String series = "tandem:engine_up{role=\"small\",endpoint=\"127.0.0.1:" + engine.http.port() + "\",model=\"demo-small\"} ";
      String metrics = metricsOnceTheyHold(front, series + "1");
      assertTrue(metrics.contains("# TYPE tandem:engine_up gauge"), metrics);
      engine.close();
      engineStopped = true;
      metricsOnceTheyHold(front, series + "0");
    } finally {
      if (!engineStopped) engine.close();
    }
  }

  /** {@code front}'s /metrics once they hold the line {@code line}, within 30 s (they are asserted to). */
  private static String metricsOnceTheyHold(TandemEngineNode front, String line) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    URI metrics = URI.create("http://127.0.0.1:" + front.http.port() + "/metrics");
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String text;
    do {
      text = http.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
      if (text.lines().anyMatch(line::equals)) return text;
      Thread.sleep(50);
    } while (System.nanoTime() < deadline);
    return fail("no line " + line + " in\n" + text);
  }
}
