package io.tandem.protocol;

import akka.actor.typed.receptionist.ServiceKey;
import io.tandem.protocol.worker.WorkerProtocol;

/** Receptionist keys under which workers register, one per role, and the orchestrator nodes' sessions. */
public final class ServiceKeys {
  /** The small (drafting) workers. */
  public static final ServiceKey<WorkerProtocol.Command> SMALL_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-small-worker");
  /** The large (takeover) workers. */
  public static final ServiceKey<WorkerProtocol.Command> LARGE_WORKERS =
      ServiceKey.create(WorkerProtocol.Command.class, "tandem-large-worker");

  /**
   * Each orchestrator node's sessions, as a stopping worker that is the last of its role asks them
   * how many sessions in flight may still need it ({@link WorkerProtocol.CountSessions}).
   */
  public static final ServiceKey<WorkerProtocol.CountSessions> SESSIONS =
      ServiceKey.create(WorkerProtocol.CountSessions.class, "tandem-sessions");

  /** The key the workers of {@code role} register under. */
  public static ServiceKey<WorkerProtocol.Command> forRole(Role role) {
    return role == Role.small ? SMALL_WORKERS : LARGE_WORKERS;
  }

  private ServiceKeys() {}
}
