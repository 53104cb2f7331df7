package io.tandem.protocol.worker;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import io.tandem.protocol.Role;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this node's remote-engine endpoints ({@code openai:} specs) last found wrong with their
 * engines, per role and endpoint, for readiness to name: an endpoint whose engine does not serve
 * (unreachable, a refused key, another model) has no worker, and "still starting" said nothing of
 * why (tester45b). The endpoints write it (worker-common's {@code EngineEndpoint}); the HTTP layer
 * of the same node reads it. An Akka extension of the node's actor system, so that each node of a
 * test's several in one JVM has its own.
 */
public final class EngineHealth implements Extension {

  private static final ExtensionId<EngineHealth> ID = new ExtensionId<>() {
    @Override
    public EngineHealth createExtension(ActorSystem<?> system) {
      return new EngineHealth();
    }
  };

  /** Per role, the problem of each endpoint that has one now ({@code HOST:PORT} to what is wrong). */
  private final Map<Role, Map<String, String>> problems = new ConcurrentHashMap<>();

  private EngineHealth() {}

  /** This node's record. */
  public static EngineHealth get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** The engine at {@code endpoint} of {@code role} does not serve, for {@code problem}; null: it serves (or stopped). */
  public void report(Role role, String endpoint, String problem) {
    Map<String, String> of = problems.computeIfAbsent(role, r -> new ConcurrentHashMap<>());
    if (problem == null) of.remove(endpoint);
    else of.put(endpoint, problem);
  }

  /** What is wrong with this node's engines of {@code role}, each endpoint's problem, in words; null when none has one. */
  public String problems(Role role) {
    Map<String, String> of = problems.getOrDefault(role, Map.of());
    if (of.isEmpty()) return null;
    return String.join("; ", new java.util.TreeMap<>(of).values());
  }
}
