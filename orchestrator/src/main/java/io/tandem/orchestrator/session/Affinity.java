package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Rendezvous (highest-random-weight) hashing of a session onto workers: every session ranks the
 * workers by hash(session, worker) and uses the first.
 *
 * <p>Why rendezvous rather than a hash ring or an explicit affinity table: it needs no shared state
 * (every orchestrator node computes the same order from the Receptionist's listing alone, so a
 * session moved to another node, or a second orchestrator, agrees on where the cache is), and it is
 * stable under membership changes: when a worker joins or leaves, only the sessions that ranked it
 * first move (1/n of them), nobody else's first choice changes, and a session's fallback order is
 * fixed, so a spill-over goes to the same second choice every time (which then holds its cache).
 * An explicit table would survive a join slightly better (nobody moves at all) but must be
 * replicated across orchestrators and cleaned up; the session already pins its worker once bound.
 */
public final class Affinity {

  /** Workers in the order a session prefers them. */
  public static <T> List<ActorRef<T>> rank(String sessionId, Collection<ActorRef<T>> workers) {
    return rank(sessionId, workers, w -> w.path().toString());
  }

  /**
   * As {@link #rank(String, Collection)}, naming each worker with {@code name}; in a cluster pass
   * the full address ({@code ActorRefResolver}) so that every node ranks a worker the same way,
   * whether it is local to that node or not.
   */
  public static <T> List<ActorRef<T>> rank(String sessionId, Collection<ActorRef<T>> workers,
      Function<ActorRef<T>, String> name) {
    List<ActorRef<T>> out = new ArrayList<>(workers);
    Map<ActorRef<T>, Long> scores = new java.util.HashMap<>();
    for (ActorRef<T> w : out) scores.put(w, score(sessionId, name.apply(w)));
    out.sort(Comparator.comparingLong((ActorRef<T> w) -> scores.get(w)).reversed().thenComparing(name));
    return out;
  }

  /**
   * The ranking of a session that is not bound to a worker yet: of its first {@code choices}
   * workers, the least loaded goes first (ties keep the hash order; unknown load counts as 0);
   * the rest keep their order. "Power of k choices": load spreads evenly while each session still
   * lands on one of few stable workers.
   */
  public static <T> List<ActorRef<T>> rankByLoad(String sessionId, Collection<ActorRef<T>> workers,
      Function<ActorRef<T>, String> name, Map<ActorRef<T>, Integer> load, int choices) {
    List<ActorRef<T>> ranked = rank(sessionId, workers, name);
    int k = Math.min(Math.max(1, choices), ranked.size());
    int best = 0;
    for (int i = 1; i < k; i++)
      if (load.getOrDefault(ranked.get(i), 0) < load.getOrDefault(ranked.get(best), 0)) best = i;
    if (best > 0) ranked.add(0, ranked.remove(best));
    return ranked;
  }

  static long score(String session, String worker) {
    // FNV-1a over both names, then a 64-bit finaliser (splitmix) to spread it.
    long h = 0xcbf29ce484222325L;
    for (byte b : (session + '\u0000' + worker).getBytes(StandardCharsets.UTF_8)) {
      h ^= b;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }

  private Affinity() {}
}
