package io.tandem.worker;

import akka.actor.typed.ActorRef;
import akka.actor.typed.javadsl.ActorContext;
import io.tandem.protocol.worker.WorkerProtocol;
import io.tandem.protocol.worker.WorkerProtocol.Command;
import io.tandem.protocol.worker.WorkerProtocol.Done;
import io.tandem.protocol.worker.WorkerProtocol.Generate;
import io.tandem.protocol.worker.WorkerProtocol.Release;
import io.tandem.protocol.worker.WorkerProtocol.Reply;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Death watch on the sessions a worker holds state for, so that a session that ends without a
 * {@link Release} (its orchestrator was killed, its node was removed from the cluster) leaves no
 * cache behind. The worker watches each request's {@code replyTo}, the session's own actor (it
 * lives as long as the session), and when that terminates it treats every session whose replies
 * went there as released, as a {@link Release} would. Death watch reports both an actor that stopped
 * and one on a node removed from the cluster (the Javadoc of {@link akka.actor.typed.Terminated}),
 * and the split brain resolver removes a node that stays unreachable, so no idle timeout is needed:
 * every session's cache a worker keeps belongs to a session that is alive, or whose node is about
 * to be removed.
 *
 * <p>A watch costs an entry in the worker's and the watched actor's watch sets and one system
 * message to set it up (one per session and worker: a session's later requests find it watched) and
 * one to end it; in a cluster, remote watches add no heartbeats of their own, the cluster's failure
 * detector covers each node once.
 *
 * <p>A plain helper, not thread-safe: the worker's actor owns it.
 */
final class SessionWatch {

  /** Self-message: {@code replyTo}, where the replies of some sessions went, terminated. */
  record Ended(ActorRef<Reply> replyTo) implements Command {}

  private final ActorContext<Command> ctx;
  private final Map<String, ActorRef<Reply>> replyToOf = new HashMap<>();
  private final Map<ActorRef<Reply>, Set<String>> sessionsOf = new HashMap<>();
  /** Each session's last {@link Done}, sent again when the session says it never came ({@link WorkerProtocol.GetStepStatus}). */
  private final Map<String, Done> lastDone = new HashMap<>();

  SessionWatch(ActorContext<Command> ctx) {
    this.ctx = ctx;
  }

  /** {@code g}'s session may hold a cache here from now on: watch where its replies go. */
  void watch(Generate g) {
    ActorRef<Reply> to = g.replyTo();
    ActorRef<Reply> before = replyToOf.put(g.sessionId(), to);
    if (to.equals(before)) return;
    if (before != null) forget(g.sessionId(), before);
    sessionsOf.computeIfAbsent(to, r -> {
      ctx.watchWith(r, new Ended(r));
      return new HashSet<>();
    }).add(g.sessionId());
  }

  /** The session was released: it needs no watching any more. */
  void released(String sessionId) {
    lastDone.remove(sessionId);
    ActorRef<Reply> to = replyToOf.remove(sessionId);
    if (to != null) forget(sessionId, to);
  }

  /** {@code done} went to the session: kept until the next, or until the session is released or ends. */
  void answered(String sessionId, Done done) {
    if (replyToOf.containsKey(sessionId)) lastDone.put(sessionId, done);
  }

  /** The session's last {@link Done} if it answered request {@code requestId}; null otherwise. */
  Done lastDone(String sessionId, long requestId) {
    Done d = lastDone.get(sessionId);
    return d != null && d.requestId() == requestId ? d : null;
  }

  /** How many sessions may hold state here now: sent a request, and neither released nor ended. */
  int count() {
    return replyToOf.size();
  }

  /** The sessions whose replies went to {@code e}'s actor: all over, to be released. */
  Set<String> ended(Ended e) {
    Set<String> over = sessionsOf.remove(e.replyTo());
    if (over == null) return Set.of();
    replyToOf.keySet().removeAll(over);
    lastDone.keySet().removeAll(over);
    return over;
  }

  private void forget(String sessionId, ActorRef<Reply> to) {
    Set<String> ids = sessionsOf.get(to);
    ids.remove(sessionId);
    if (ids.isEmpty()) {
      sessionsOf.remove(to);
      ctx.unwatch(to);
    }
  }
}
