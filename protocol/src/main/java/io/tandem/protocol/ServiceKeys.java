package io.tandem.protocol;

import akka.actor.typed.receptionist.ServiceKey;
import io.tandem.protocol.worker.WorkerProtocol;

/** Receptionist keys under which workers register, one per role. */
public final class ServiceKeys {
  public static final ServiceKey<WorkerProtocol.Command> SMALL_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-small-worker");
  public static final ServiceKey<WorkerProtocol.Command> LARGE_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-large-worker");

  public static ServiceKey<WorkerProtocol.Command> forRole(Role role) {
    return role == Role.small ? SMALL_WORKERS : LARGE_WORKERS;
  }

  private ServiceKeys() {}
}
