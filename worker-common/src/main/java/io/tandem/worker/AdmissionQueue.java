package io.tandem.worker;

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

  /** The number of requests waiting. */
  int size();
}
