package io.tandem.protocol;

import akka.actor.typed.receptionist.ServiceKey;
import io.tandem.protocol.worker.WorkerProtocol;

/** Receptionist keys under which workers register, one per role. */
public final class ServiceKeys {
  /** The small (drafting) workers. */
  public static final ServiceKey<WorkerProtocol.Command> SMALL_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-small-worker");
  /** The large (takeover) workers. */
  public static final ServiceKey<WorkerProtocol.Command> LARGE_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-large-worker");

  /** The key the workers of {@code role} register under. */
  public static ServiceKey<WorkerProtocol.Command> forRole(Role role) {
    return role == Role.small ? SMALL_WORKERS : LARGE_WORKERS;
  }

  private ServiceKeys() {}
}
