package io.tandem.ops.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
    try (TandemEngineNode node = new TandemEngineNode("front", Role.small, spec, 4, "tandem.http.default-mode = small")) {
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
    }
  }
}
