package io.tandem.orchestrator.session;

import akka.actor.typed.ActorRef;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Rendezvous (highest-random-weight) hashing of a session onto workers: every session ranks the
 * workers by hash(session, worker) and uses the first. When a worker joins or leaves, only the
 * sessions that ranked it first move, and a session's fallback order is stable, so a spill-over
 * goes to the same second choice every time (which then holds its cache).
 */
public final class Affinity {

  /** Workers in the order a session prefers them. */
  public static <T> List<ActorRef<T>> rank(String sessionId, Collection<ActorRef<T>> workers) {
    List<ActorRef<T>> out = new ArrayList<>(workers);
    out.sort(Comparator.comparingLong((ActorRef<T> w) -> score(sessionId, w.path().toString())).reversed()
        .thenComparing(w -> w.path().toString()));
    return out;
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
