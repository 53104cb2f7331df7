package io.tandem.ops;

import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.Behavior;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.Config;
import io.tandem.inference.Models;
import io.tandem.orchestrator.session.SessionSettings;
import io.tandem.orchestrator.session.Sessions;
import io.tandem.orchestrator.session.WorkerDirectory;
import io.tandem.protocol.Role;
import io.tandem.worker.AdmissionQueue;
import io.tandem.worker.FifoQueue;
import io.tandem.worker.ModelWorker;
import io.tandem.worker.large.FairQueue;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * One Tandem node: an ActorSystem with the session parent and worker directory (role
 * orchestrator) and one worker actor per device of each model role it plays.
 */
public final class TandemNode implements AutoCloseable {

  private final ActorSystem<Void> system;
  private final ActorRef<Sessions.Command> sessions;
  private final ActorRef<WorkerDirectory.Command> directory;

  private TandemNode(ActorSystem<Void> system, ActorRef<Sessions.Command> sessions,
      ActorRef<WorkerDirectory.Command> directory) {
    this.system = system;
    this.sessions = sessions;
    this.directory = directory;
  }

  /**
   * Starts a node named {@code name} with {@code config}; {@code roles} maps each model role this
   * node hosts to its spec (an empty map: a node of sessions only).
   */
  public static TandemNode start(String name, Config config, Map<Role, RoleSpec> roles, boolean orchestrator) {
    CompletableFuture<ActorRef<Sessions.Command>> sessionsRef = new CompletableFuture<>();
    CompletableFuture<ActorRef<WorkerDirectory.Command>> directoryRef = new CompletableFuture<>();
    java.util.List<CompletableFuture<String>> loads = new java.util.concurrent.CopyOnWriteArrayList<>();
    SessionSettings sessionSettings = SessionSettings.fromConfig(config);
    Behavior<Void> guardian = Behaviors.setup(ctx -> {
      if (orchestrator) {
        ActorRef<WorkerDirectory.Command> dir = ctx.spawn(WorkerDirectory.create(), "workers");
        directoryRef.complete(dir);
        sessionsRef.complete(ctx.spawn(Sessions.create(dir, sessionSettings), "sessions"));
      } else {
        directoryRef.complete(null);
        sessionsRef.complete(null);
      }
      for (Map.Entry<Role, RoleSpec> e : roles.entrySet()) {
        Role role = e.getKey();
        RoleSpec spec = e.getValue();
        for (int i = 0; i < spec.devices().size(); i++) {
          String device = spec.devices().get(i);
          Supplier<AdmissionQueue> queue = role == Role.large
              ? () -> new FairQueue(spec.settings().queueLimit(), spec.perTenantQueueLimit())
              : () -> new FifoQueue(spec.settings().queueLimit());
          CompletableFuture<String> loaded = new CompletableFuture<>();
          loads.add(loaded);
          ctx.spawn(
              ModelWorker.create(role, () -> Models.open(spec.model(), device), spec.settings(), queue, loaded),
              // Two replicas may share a device (e.g. [cpu, cpu]): the index keeps names unique.
              role + "-worker-" + i + "-" + device,
              DispatcherSelector.fromConfig(ModelWorker.DISPATCHER));
        }
      }
      return Behaviors.empty();
    });
    ActorSystem<Void> system = ActorSystem.create(guardian, name, config);
    try {
      TandemNode node = new TandemNode(system, sessionsRef.get(60, TimeUnit.SECONDS), directoryRef.get(60, TimeUnit.SECONDS));
      // Every worker opens its model before the node counts as started; the first failure is the node's.
      for (CompletableFuture<String> l : loads) l.get(2, TimeUnit.HOURS);
      return node;
    } catch (java.util.concurrent.ExecutionException e) {
      system.terminate();
      Throwable cause = e.getCause();
      throw new IllegalStateException(cause.getMessage(), cause);
    } catch (Exception e) {
      system.terminate();
      throw new IllegalStateException("node " + name + " did not start: " + e.getMessage(), e);
    }
  }

  /** The model roles configured for this node, from {@code tandem.small} and {@code tandem.large}. */
  public static Map<Role, RoleSpec> rolesFromConfig(Config config) {
    Map<Role, RoleSpec> out = new EnumMap<>(Role.class);
    for (String r : config.getStringList("tandem.roles")) {
      if (r.equals("orchestrator")) continue;
      Role role;
      try {
        role = Role.valueOf(r);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("tandem.roles: unknown role '" + r + "' (orchestrator, small, large)");
      }
      out.put(role, RoleSpec.fromConfig(config.getConfig("tandem." + r)));
    }
    return out;
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public ActorRef<Sessions.Command> sessions() {
    return sessions;
  }

  public ActorRef<WorkerDirectory.Command> directory() {
    return directory;
  }

  @Override
  public void close() {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      // Shutting down anyway.
    }
  }

  static Duration seconds(double s) {
    return Duration.ofMillis((long) (s * 1000));
  }
}
