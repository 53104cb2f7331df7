package io.tandem.worker;

import io.tandem.protocol.FailureCode;

/**
 * The requests waiting for a place in a worker's running batch, and the order in which they get
 * one. Bounded: a full queue refuses, so that overload becomes a clear rejection rather than a
 * growing wait. The role's module chooses the order: {@code FifoQueue} (worker-small) or {@code
 * FairQueue} (worker-large). Used by one actor only; implementations need not be thread-safe.
 */
public interface AdmissionQueue {

  /** Adds a request; false when the queue is full. */
  boolean offer(PendingRequest request);

  /** The next request to admit, or null. */
  PendingRequest poll();

  /** Removes a request of a session (cancelled or released); null if none waits. */
  PendingRequest remove(String sessionId);

  /** The request of a session that waits, without removing it; null if none does. */
  PendingRequest find(String sessionId);

  /** The number of requests waiting. */
  int size();

  /**
   * Why {@link #offer} refused a request.
   *
   * @param code {@link FailureCode#QUEUE_FULL} for the whole queue, {@link FailureCode#TENANT_QUEUE_FULL}
   *     for the request's tenant's share of it
   * @param reason the limit met, for a worker to say after its name
   */
  record Full(FailureCode code, String reason) {}

  /**
   * Why {@link #offer} refused {@code request}, naming the limit it met as a setting of the role
   * whose keys begin {@code keys} ({@code tandem.large.}): {@code queue is full (8 waiting,
   * tandem.large.queue-limit)}.
   */
  default Full whyFull(PendingRequest request, String keys) {
    return new Full(FailureCode.QUEUE_FULL, "queue is full (" + size() + " waiting, " + keys + "queue-limit)");
  }
}
