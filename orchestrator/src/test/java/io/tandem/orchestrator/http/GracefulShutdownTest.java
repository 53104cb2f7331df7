package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.CoordinatedShutdown;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Shutting down stops taking requests and lets the running ones finish. */
class GracefulShutdownTest {

  @Test
  void aRequestInFlightWhenTheServerShutsDownStillCompletes() throws Exception {
    try (TestServer s = TestServer.start("")) {
      s.gate.close();
      HttpRequest req = HttpRequest.newBuilder(URI.create(s.base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":30}"))
          .build();
      CompletableFuture<HttpResponse<String>> inFlight = s.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
      TestServer.eventually("the request is running", () -> s.metric("tandem:num_requests_running") == 1.0);

      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      // New connections are refused once the server has unbound.
      TestServer.eventually("the port is closed", () -> {
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", Integer.parseInt(s.base.substring(s.base.lastIndexOf(':') + 1)))) {
          return false;
        } catch (java.io.IOException refused) {
          return true;
        }
      });
      s.gate.open();
      HttpResponse<String> r = inFlight.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"completion_tokens\":30"), r.body());
      shutdown.get(60, TimeUnit.SECONDS);
    }
  }

  @Test
  void aStreamInFlightWhenTheServerShutsDownIsWrittenToItsEnd() throws Exception {
    try (TestServer s = TestServer.start("")) {
      s.gate.close();
      HttpRequest req = HttpRequest.newBuilder(URI.create(s.base + "/v1/chat/completions"))
          .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"tandem\",\"stream\":true,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":30}"))
          .build();
      CompletableFuture<HttpResponse<String>> inFlight = s.http.sendAsync(req, HttpResponse.BodyHandlers.ofString());
      TestServer.eventually("the request is running", () -> s.metric("tandem:num_requests_running") == 1.0);

      CompletableFuture<?> shutdown = CoordinatedShutdown.get(s.system)
          .runAll(CoordinatedShutdown.unknownReason()).toCompletableFuture();
      s.gate.open();
      HttpResponse<String> r = inFlight.get(30, TimeUnit.SECONDS);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().contains("\"finish_reason\":\"length\""), r.body());
      assertTrue(r.body().endsWith("data: [DONE]\n\n"), r.body());
      shutdown.get(60, TimeUnit.SECONDS);
    }
  }
}
