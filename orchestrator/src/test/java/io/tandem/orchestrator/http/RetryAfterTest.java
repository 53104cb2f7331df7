package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
