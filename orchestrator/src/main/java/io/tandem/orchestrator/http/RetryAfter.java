package io.tandem.orchestrator.http;

import io.tandem.protocol.FailureCode;
import java.time.Duration;

/**
 * The {@code Retry-After} of a retryable failure, in HTTP's whole seconds (RFC 9110, section
 * 10.2.3), by what failed: {@code seconds} ({@code tandem.http.retry-after}) in general, and
 * {@code withoutWorkerSeconds} when no worker of the role the request needs is offered ({@link
 * FailureCode#NO_WORKER}: its node crashed and was removed, or none joined), which a retry a second
 * later meets again; only a node's (re)start clears it, and this server itself waits {@code
 * tandem.session.worker-wait} for one, so a client is told to wait as long. The OpenAI SDKs honour a
 * {@code Retry-After} under 60 s before their own backoff: two retries then span a restart.
 *
 * @param seconds 0 for no header
 * @param withoutWorkerSeconds 0 for no header
 */
record RetryAfter(int seconds, int withoutWorkerSeconds) {

  /** {@code seconds} in general, at least {@code workerWait} (rounded up) without a worker; none at all when {@code seconds} is 0. */
  static RetryAfter of(int seconds, Duration workerWait) {
    long wait = Math.min(Integer.MAX_VALUE, (workerWait.toMillis() + 999) / 1000);
    return new RetryAfter(seconds, seconds == 0 ? 0 : (int) Math.max(seconds, wait));
  }

  /** What a failure of {@code code} says to wait. */
  int forCode(FailureCode code) {
    return code == FailureCode.NO_WORKER ? withoutWorkerSeconds : seconds;
  }
}
