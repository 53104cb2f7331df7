package io.tandem.worker;

import io.tandem.protocol.worker.WorkerProtocol;

/** A generate request waiting in a worker's queue, with the time it arrived. */
public record PendingRequest(WorkerProtocol.Generate request, long arrivedNanos) {
  public String tenant() {
    return request.tenant() == null ? "" : request.tenant();
  }

  public String sessionId() {
    return request.sessionId();
  }
}
