package io.tandem.protocol.worker;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.Extension;
import akka.actor.typed.ExtensionId;
import io.tandem.protocol.Role;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
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

  /**
   * Per role, each endpoint this node runs ({@code HOST:PORT/MODEL}: one engine may serve several
   * models, a vLLM with LoRA adapters), with what is wrong with its engine now, or the empty string
   * while it serves.
   */
  private final Map<Role, Map<String, String>> endpoints = new ConcurrentHashMap<>();

  /** Per role, the endpoints whose engine did not answer its last health check in time while its worker serves on. */
  private final Map<Role, Map<String, String>> silent = new ConcurrentHashMap<>();

  private EngineHealth() {}

  /**
   * The engine at {@code endpoint} of {@code role} did not answer its last health check within its
   * timeout ({@code what}, in words), its worker serving on meanwhile (a stall below the failure
   * threshold); null: it answered.
   */
  public void silent(Role role, String endpoint, String what) {
    Map<String, String> of = silent.computeIfAbsent(role, r -> new ConcurrentHashMap<>());
    if (what == null) of.remove(endpoint);
    else of.put(endpoint, what);
  }

  /** What this node's engines of {@code role} that are silent now (see {@link #silent}) did not do, in words; null for none. */
  public String silence(Role role) {
    List<String> of = new TreeMap<>(silent.getOrDefault(role, Map.of())).values().stream().toList();
    return of.isEmpty() ? null : String.join("; ", of);
  }

  /** This node's record. */
  public static EngineHealth get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  /** The engine at {@code endpoint} ({@code HOST:PORT/MODEL}) of {@code role} does not serve, for {@code problem}; null: it serves. */
  public void report(Role role, String endpoint, String problem) {
    endpoints.computeIfAbsent(role, r -> new ConcurrentHashMap<>()).put(endpoint, problem == null ? "" : problem);
  }

  /** The endpoint stopped (its node is stopping): nothing is known of its engine any more. */
  public void forget(Role role, String endpoint) {
    endpoints.getOrDefault(role, Map.of()).remove(endpoint);
    silent.getOrDefault(role, Map.of()).remove(endpoint);
  }

  /** What is wrong with this node's engines of {@code role}, each endpoint's problem, in words; null when none has one. */
  public String problems(Role role) {
    List<String> of = new TreeMap<>(endpoints.getOrDefault(role, Map.of())).values().stream().filter(p -> !p.isEmpty()).toList();
    return of.isEmpty() ? null : String.join("; ", of);
  }

  /**
   * What is wrong with this node's engines of {@code role}, as a sentence's end: {@code engine does not serve: PROBLEM}, or
   * {@code engines do not serve: PROBLEM; PROBLEM} for several; null when none has a problem.
   */
  public String notServing(Role role) {
    List<String> of = new TreeMap<>(endpoints.getOrDefault(role, Map.of())).values().stream().filter(p -> !p.isEmpty()).toList();
    return of.isEmpty() ? null : (of.size() == 1 ? "engine does not serve: " : "engines do not serve: ") + String.join("; ", of);
  }

  /**
   * Each endpoint of {@code role} this node runs whose engine's health has been checked, in order,
   * with whether the engine serves ({@code true}) or not: an answer to its health check that it does,
   * and no request lost since.
   */
  public SortedMap<String, Boolean> serving(Role role) {
    SortedMap<String, Boolean> out = new TreeMap<>();
    endpoints.getOrDefault(role, Map.of()).forEach((endpoint, problem) -> out.put(endpoint, problem.isEmpty()));
    return out;
  }
}
