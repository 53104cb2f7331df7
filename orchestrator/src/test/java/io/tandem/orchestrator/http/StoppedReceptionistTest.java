package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import akka.actor.typed.javadsl.Adapter;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;

/**
 * A node the cluster removed (its split brain resolver downed it) stops its receptionist while its
 * HTTP port still answers for a moment: Akka's ask of a stopped actor fails with a {@code
 * TimeoutException} at once, which was a 500 {@code internal_error} with a stack trace in the log;
 * it is the server not answering, a retryable 503.
 */
class StoppedReceptionistTest {
  @Test
  void aRequestAfterTheReceptionistStoppedIsARetryable503() throws Exception {
    try (TestServer server = TestServer.start("")) {
      answeredWithoutAReceptionist(server);
    }
  }

  private static void answeredWithoutAReceptionist(TestServer server) throws Exception {
    server.system.classicSystem().stop(Adapter.toClassic(server.system.receptionist()));
    String body = "{\"model\":\"tandem\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5}";
    HttpResponse<String> r = server.post("/v1/chat/completions", body, null);
    for (int i = 0; i < 50 && r.statusCode() == 200; i++) r = server.post("/v1/chat/completions", body, null); // the stop is a message
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Retry-After").isPresent(), r.headers().map().toString());
    assertTrue(r.body().contains("the server did not answer in time"), r.body());
    HttpResponse<String> metrics = server.get("/metrics");
    assertEquals(503, metrics.statusCode(), metrics.body());
  }
}
