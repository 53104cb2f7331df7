package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.protocol.FailureCode;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryAfterTest {
  /** Without a worker of the role a client is told to wait as long as the server waits for one to (re)start. */
  @Test
  void noWorkerWaitsWorkerWaitAndEverythingElseTheGeneralFigure() {
    RetryAfter r = RetryAfter.of(1, Duration.ofSeconds(10));
    assertEquals(10, r.forCode(FailureCode.NO_WORKER));
    assertEquals(1, r.forCode(FailureCode.WORKER_LOST), "another worker may take the retry at once");
    assertEquals(1, r.forCode(FailureCode.UNAVAILABLE));
    assertEquals(1, r.forCode(FailureCode.TIMEOUT));
    assertEquals(new RetryAfter(30, 30), RetryAfter.of(30, Duration.ofSeconds(10)), "never shorter than the general figure");
    assertEquals(new RetryAfter(1, 2), RetryAfter.of(1, Duration.ofMillis(1500)), "rounded up to HTTP's whole seconds");
    assertEquals(new RetryAfter(0, 0), RetryAfter.of(0, Duration.ofSeconds(10)), "tandem.http.retry-after = 0s: no header at all");
  }

  /** tandem.http.retry-after = 0s sends no Retry-After, as reference.conf says, on a failed generation too (it sent 1). */
  @Test
  void zeroSecondsIsNoHeaderOnAFailedGeneration() {
    assertEquals(0, ApiError.forFailure(FailureCode.UNAVAILABLE, "x", 0).retryAfterSeconds());
    assertEquals(10, ApiError.forFailure(FailureCode.NO_WORKER, "x", 10).retryAfterSeconds());
    assertEquals(0, ApiError.forFailure(FailureCode.ROLE_NOT_SERVED, "x", 10).retryAfterSeconds(), "never clears: none");
  }

  /**
   * The SDKs' retry-after-ms spreads the clients refused together over half a Retry-After, at most
   * 2 s, never sooner than it, and on Retry-After's side of each SDK's limit (60 s, 120 s).
   */
  @Test
  void retryAfterMsSpreadsTheRetriesFromRetryAfterOn() {
    java.util.Random random = new java.util.Random(58);
    java.util.Set<Long> seen = new java.util.HashSet<>();
    for (int i = 0; i < 200; i++) {
      long ms = ApiError.retryAfterMillis(1, random);
      assertTrue(ms >= 1000 && ms < 1500, "from Retry-After: 1 on, by up to half of it: " + ms);
      seen.add(ms);
    }
    assertTrue(seen.size() > 100, "drawn, not one figure: " + seen.size() + " distinct of 200");
    for (int seconds : new int[] {26, 59, 60, 61, 117, 119, 120, 121, 21_474_835}) {
      for (int i = 0; i < 50; i++) {
        long ms = ApiError.retryAfterMillis(seconds, random);
        assertTrue(ms >= seconds * 1000L && ms < seconds * 1000L + 2000, seconds + " s: at most 2 s later: " + ms);
        // The SDKs' limits, 60 s and 120 s: on Retry-After's side of each (tester58f, tester58h, tester58i, tester58j).
        if (seconds < 60) assertTrue(ms < 60_000, seconds + " s: under 60 s, which every SDK waits: " + ms);
        if (seconds < 120) assertTrue(ms < 120_000, seconds + " s: under 120 s, past which openai-python gives up: " + ms);
      }
    }
    assertEquals(60_000, ApiError.retryAfterMillis(60, random));
    assertEquals(120_000, ApiError.retryAfterMillis(120, random));
    assertEquals(0, ApiError.retryAfterMillis(0, random), "no Retry-After, none");
    var headers = ApiError.forFailure(FailureCode.QUEUE_FULL, "x", 1).toResponse().getHeaders();
    long sent = java.util.stream.StreamSupport.stream(headers.spliterator(), false)
        .filter(h -> h.is("retry-after-ms")).mapToLong(h -> Long.parseLong(h.value())).findFirst().orElse(-1);
    assertTrue(sent >= 1000 && sent < 1500, "a 503 at capacity carries it beside Retry-After: " + headers);
  }
}
