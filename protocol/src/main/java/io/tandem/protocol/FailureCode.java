package io.tandem.protocol;

/**
 * Why a step or a generation failed, as data: workers, sessions and the HTTP layer pass this code
 * along with their human-readable message, and each layer decides from the code (never from the
 * message text) what to do: retry elsewhere, tell the client it asked for too much, or report a
 * server fault. The HTTP status of each code is the HTTP layer's business.
 */
public enum FailureCode {
  /** The request itself is unusable (the client's fault; retrying the same request fails again). */
  INVALID_REQUEST(false),
  /** The prompt, or prompt plus requested tokens, does not fit a model's context length. */
  CONTEXT_LENGTH_EXCEEDED(false),
  /**
   * No worker of a needed role can ever be offered: the node is outside a cluster (nothing can join
   * it) and does not run the role. Sending the same request again fails the same way until the
   * node is started otherwise.
   */
  ROLE_NOT_SERVED(false),
  /** A worker's queue is full; another worker, or the same one a little later, may take it. */
  QUEUE_FULL(true),
  /**
   * A worker's queue holds as many requests of the request's tenant as one tenant may have waiting
   * ({@code tandem.large.per-tenant-queue-limit}); other tenants' requests are still taken, so this
   * is the tenant's limit met (a 429), not the server's (a 503).
   */
  TENANT_QUEUE_FULL(true),
  /** No worker of a needed role is available (none registered, or all lost). */
  NO_WORKER(true),
  /** The worker that held the step was lost (its node crashed, became unreachable or stopped). */
  WORKER_LOST(true),
  /** A deadline of the session passed before the work it guards completed. */
  TIMEOUT(true),
  /** The model raised an error computing a step (a server fault). */
  MODEL_ERROR(false),
  /** The server is shutting down or otherwise refusing new work for now. */
  UNAVAILABLE(true),
  /** Anything else that went wrong inside the server. */
  INTERNAL(false);

  private final boolean retryable;

  FailureCode(boolean retryable) {
    this.retryable = retryable;
  }

  /** True when the same request may succeed if sent again (elsewhere or later). */
  public boolean retryable() {
    return retryable;
  }
}
