package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code tandem:request_queue_time_seconds} has one observation per request that ended as it
 * should, as vLLM's {@code request_queue_time_seconds}, each at most that request's end-to-end
 * latency (the wait comes from each session's end: {@code SessionQueueTimeTest}).
 */
class RequestQueueTimeTest {
  @RegisterExtension
  static final TestServer server = TestServer.start("");

  private static final String BODY = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":%d,"
      + "\"tandem\":{\"mode\":\"%s\"}}";

  @Test
  void eachRequestThatEndsAsItShouldHasItsQueueTimeObserved() throws Exception {
    double before = server.count("tandem:request_queue_time_seconds_count");
    String[] modes = {"small", "large", "speculative"};
    for (String mode : modes) assertEquals(200, server.post("/v1/chat/completions", String.format(BODY, 40, mode), null).statusCode());
    assertEquals(modes.length, server.metric("tandem:request_queue_time_seconds_count") - before);
    double queued = server.metric("tandem:request_queue_time_seconds_sum");
    assertTrue(queued >= 0 && queued <= server.metric("tandem:e2e_request_latency_seconds_sum"),
        "waited " + queued + " s in queues, within the requests' own latency");
  }
}
