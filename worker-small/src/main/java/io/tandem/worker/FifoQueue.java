package io.tandem.worker;

import java.util.ArrayDeque;
import java.util.Iterator;

/** First come, first served: the small workers' order (each session has its own draft in flight). */
public final class FifoQueue implements AdmissionQueue {
  private final ArrayDeque<PendingRequest> queue = new ArrayDeque<>();
  private final int limit;

  /** @throws IllegalArgumentException when {@code limit < 1} */
  public FifoQueue(int limit) {
    if (limit < 1) throw new IllegalArgumentException("queue limit must be >= 1, got " + limit);
    this.limit = limit;
  }

  @Override
  public boolean offer(PendingRequest request) {
    if (queue.size() >= limit) return false;
    queue.addLast(request);
    return true;
  }

  @Override
  public PendingRequest poll() {
    return queue.pollFirst();
  }

  @Override
  public PendingRequest remove(String sessionId) {
    for (Iterator<PendingRequest> it = queue.iterator(); it.hasNext(); ) {
      PendingRequest p = it.next();
      if (p.sessionId().equals(sessionId)) {
        it.remove();
        return p;
      }
    }
    return null;
  }

  @Override
  public PendingRequest find(String sessionId) {
    for (PendingRequest p : queue) if (p.sessionId().equals(sessionId)) return p;
    return null;
  }

  @Override
  public int size() {
    return queue.size();
  }
}
