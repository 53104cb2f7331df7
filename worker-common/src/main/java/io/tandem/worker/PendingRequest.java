package io.tandem.worker;

import io.tandem.protocol.worker.WorkerProtocol;

/** A generate request waiting in a worker's queue, with the time it arrived. */
public record PendingRequest(WorkerProtocol.Generate request, long arrivedNanos) {
  /** The request's tenant; {@code ""} when it has none. */
  public String tenant() {
    return request.tenant() == null ? "" : request.tenant();
  }

  /** The session the request belongs to. */
  public String sessionId() {
    return request.sessionId();
  }
}
