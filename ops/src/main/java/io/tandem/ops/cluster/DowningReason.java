package io.tandem.ops.cluster;

import akka.actor.Address;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.Behaviors;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;
import akka.cluster.typed.Subscribe;
import com.typesafe.config.Config;
import io.tandem.orchestrator.session.PauseWatch;
import io.tandem.protocol.text.Seconds;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Why the split brain resolver downed this node, in the line the node exits with, from the last
 * membership it saw: which members it counted and which of them it could not reach.
 *
 * <p>Akka's keep-majority (Akka docs, "Split Brain Resolver", Keep Majority) keeps the side with
 * more than half of the members (joining and weakly-up members not counted), and when both sides are
 * equal keeps the side with the member of the lowest address. So a node can be downed beside a
 * healthy peer while the other half is dead (two of four nodes killed together): that is the
 * documented tie rule, not a pause or a cut network, and the line says so.
 */
public final class DowningReason {

  /** The members Akka's keep-majority counts: not joining or weakly up (nor already removed). */
  public static boolean counted(Member m) {
    MemberStatus s = m.status();
    return s != MemberStatus.joining() && s != MemberStatus.weaklyUp() && s != MemberStatus.removed();
  }

  /**
   * The exit line of node {@code self} downed by the resolver: when {@code unreachable} is exactly
   * half of {@code members} and holds the lowest address, the tie rule and what to do about it;
   * otherwise the node was cut off (a long pause, a stopped process or the network).
   *
   * @param members the addresses of the members keep-majority counts ({@link #counted}), self included
   * @param unreachable the addresses among them this node could not reach
   */
  public static String message(String self, Collection<Address> members, Set<Address> unreachable, String strategy,
      Duration stableAfter) {
    String removed = "node " + self + " was removed from the cluster: the split brain resolver (" + strategy + ")";
    TreeSet<Address> sorted = new TreeSet<>(Member.addressOrdering());
    sorted.addAll(members);
    if ("keep-majority".equals(strategy) && !unreachable.isEmpty() && unreachable.size() * 2 == sorted.size()
        && unreachable.contains(sorted.first())) {
      return removed + " downed this node's side: the cluster split into equal halves (" + unreachable.size() + " of "
          + sorted.size() + " members unreachable) and keep-majority keeps the half with the lowest address ("
          + sorted.first() + "), here the unreachable one; run an odd number of nodes, so that one side is always"
          + " the majority. Start it again to rejoin";
    }
    // Every other member reachable (a downed one aside, whose unreachability was decided): not cut off, downed by another
    // node (tester55c: a second node's stall while the first was downed, and the resolver downed all; the line said this
    // node and the others could not reach each other).
    if (unreachable.isEmpty() && sorted.size() > 1)
      return "node " + self + " was removed from the cluster: another node downed it, though this node could reach every"
          + " other member: Akka's split brain resolver downs every node when the membership keeps changing for longer"
          + " than stable-after and down-all-when-unstable (a node stalling while another was being downed, say), or an"
          + " operator downed it. Start it again to rejoin";
    // At least: stable-after is the resolver's wait, not how long they were apart (tester47e read 7 s beside a 15.1 s pause).
    return removed + " downed it after it and the other nodes could not reach each other for at least "
        + Seconds.of(stableAfter) + " s (akka.cluster.split-brain-resolver.stable-after: a long pause, a stopped process or the"
        + " network). Start it again to rejoin";
  }

  /**
   * The exit line of node {@code self} that did not run for {@code pause}, long enough for the
   * others to down it meanwhile (their failure detector's acceptable-heartbeat-pause, then the
   * resolver's stable-after), shortly before it was downed. Said rather than what the membership this node last saw suggests: waking
   * with that stale view, its own resolver may down every member it knew, itself with them, while
   * the others carry on (the CI run of 33cf640a: the line told a stopped node's operator to start
   * every node again). A shorter pause downs nothing by itself; a node downed after one is told
   * what its membership says (every node downed, or cut off: tester56a).
   */
  public static String paused(String self, Duration pause, String strategy) {
    return "node " + self + " was removed from the cluster: this node did not run for "
        + Seconds.of(Duration.ofMillis(Math.round(pause.toMillis() / 100.0) * 100))
        + " s (a long GC pause, a stopped process or a frozen VM), so the others could not reach it and the split brain"
        + " resolver (" + strategy + ") downed it. Start it again to rejoin";
  }

  /**
   * The exit line of node {@code self} downed shortly after it stalled for {@code pause} (too short
   * for the others to down it for that alone) while another member was being downed: Akka's
   * resolver then downs every node (down-all-when-unstable), and this node may learn of its own
   * downing before the others' (tester56e: 4 of 8 such nodes were told to restart themselves alone,
   * the orchestrator down too).
   */
  public static String stalledWhileAnotherWasDowned(String self, Duration pause, String strategy) {
    return "node " + self + " was removed from the cluster: the split brain resolver (" + strategy + ") downed it as another"
        + " node was being downed while this one stalled for " + Seconds.of(Duration.ofMillis(Math.round(pause.toMillis() / 100.0)
        * 100)) + " s (a GC pause, a stopped process or a frozen VM): the membership kept changing for longer than stable-after"
        + " and down-all-when-unstable, and Akka's precaution against a split brain then downs every node. Start again the"
        + " nodes that no longer run, the orchestrator first";
  }

  /**
   * The exit line of node {@code self} downed shortly after it stalled for {@code pause}, too short
   * for the others to down it for alone, no other member known to be down: its own resolver, as it
   * woke and could not yet reach the others, or Akka's down-all whose other downings it has not
   * heard of.
   */
  public static String stalled(String self, Duration pause, String strategy) {
    return "node " + self + " was removed from the cluster: the split brain resolver (" + strategy + ") downed it shortly"
        + " after this node stalled for " + Seconds.of(Duration.ofMillis(Math.round(pause.toMillis() / 100.0) * 100)) + " s"
        + " (a GC pause, a stopped process or a frozen VM), too short for the others to down it for alone: either this node"
        + " and the others then could not reach each other long enough for a resolver to act, or the membership kept"
        + " changing (another node stalling or downed) and Akka's precaution downed every node. Start it again to rejoin,"
        + " and any other node that no longer runs, the orchestrator first";
  }

  /**
   * The exit line of node {@code self} downed with every other member at once: the resolver's
   * precaution when the membership keeps changing for longer than {@code stable-after} plus {@code
   * down-all-when-unstable} (Akka docs, "Split Brain Resolver", Down all when unstable).
   */
  public static String everyNodeDowned(String self, String strategy) {
    return "node " + self + " was removed from the cluster: the split brain resolver (" + strategy + ") downed every node,"
        + " this one with them, as the membership kept changing for longer than stable-after and down-all-when-unstable"
        + " (a node stalling while another was being downed, say): Akka's precaution against a split brain. Start the nodes"
        + " again, the orchestrator first";
  }

  /**
   * The exit line of node {@code self}, marked down, from the membership it last saw.
   *
   * @param counted the status of each member keep-majority counts ({@link #counted}), self included
   * @param unreachable the members this node's failure detector has marked unreachable
   * @param pause the longest pause of this node lately that was long enough for the others to down it
   *     meanwhile (acceptable-heartbeat-pause plus stable-after), or null
   * @param stall the longest pause lately past acceptable-heartbeat-pause, or null
   */
  static String reason(Address self, Map<Address, MemberStatus> counted, Set<Address> unreachable, Duration pause,
      Duration stall, String strategy, Duration stableAfter) {
    boolean anotherDowned = counted.entrySet().stream()
        .anyMatch(m -> !m.getKey().equals(self) && m.getValue().equals(MemberStatus.down()));
    // Downed by the others while it did not run, it reaches none of them as it wakes (they refuse it); but the gossip that
    // says it was downed may come before its failure detector has marked them unreachable (a CI run of e3751b80: the line
    // said it stalled as another node was downed, though none was). With no other member down, only the pause downed it.
    if (pause != null && (!anotherDowned
        || counted.keySet().stream().allMatch(a -> a.equals(self) || unreachable.contains(a))))
      return paused(self.toString(), pause, strategy);
    boolean allDowned = counted.size() > 1 && counted.values().stream().allMatch(s -> s.equals(MemberStatus.down()));
    // A shorter stall downs no node by itself: downed after one, as another member was being downed, or by the gossip of a
    // member it reaches (a resolver downs a node the others reach only in its down-all), this node is most likely in Akka's
    // down-all, whose other downings it may not hear of before it stops (tester56e; tester56g: the decider downs in address
    // order, and the first one downed may hear of no other).
    boolean reachesAnUpMember = counted.entrySet().stream().anyMatch(m -> !m.getKey().equals(self)
        && !m.getValue().equals(MemberStatus.down()) && !unreachable.contains(m.getKey()));
    if (!allDowned && stall != null && anotherDowned) return stalledWhileAnotherWasDowned(self.toString(), stall, strategy);
    // No other member down as far as this node knows: it cannot tell its own resolver's downing (a minority of one as it
    // woke: tester61h, two 6 s stops 300 ms apart) from a down-all it is the first to hear of, so the line says both
    // (it said "as another node was being downed", which none was).
    if (!allDowned && stall != null && reachesAnUpMember) return stalled(self.toString(), stall, strategy);
    if (allDowned) return everyNodeDowned(self.toString(), strategy);
    Set<Address> cut = new HashSet<>(unreachable);
    cut.retainAll(counted.keySet());
    // A member downed already is unreachable by decision: it says nothing of this node's reach.
    cut.removeIf(a -> counted.get(a).equals(MemberStatus.down()));
    return message(self.toString(), counted.keySet(), cut, strategy, stableAfter);
  }

  /**
   * Follows the membership and, when this node is marked down, puts its exit line in {@code
   * downedBecause}. (Akka stops the cluster, emptying its own view of the membership, before the
   * shutdown that the downing runs begins.) A downing soon after a pause long enough for the others
   * to down this node meanwhile ({@link PauseWatch#pauseWithin}) is said to be the pause's doing
   * ({@link #paused}).
   */
  public static Behavior<ClusterEvent.ClusterDomainEvent> recorder(AtomicReference<String> downedBecause) {
    return Behaviors.setup(ctx -> {
      Cluster cluster = Cluster.get(ctx.getSystem());
      cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.MemberEvent.class));
      cluster.subscriptions().tell(Subscribe.create(ctx.getSelf().narrow(), ClusterEvent.ReachabilityEvent.class));
      Config config = ctx.getSystem().settings().config();
      String strategy = config.getString("akka.cluster.split-brain-resolver.active-strategy");
      Duration stableAfter = config.getDuration("akka.cluster.split-brain-resolver.stable-after");
      Duration acceptablePause = config.getDuration("akka.cluster.failure-detector.acceptable-heartbeat-pause");
      // From a pause's end to the downing it learns of: 9-20 s on a loaded 2-core machine (tester56a), 15.3 s in the CI
      // run; room for a slower one.
      Duration pauseCounts = stableAfter.multipliedBy(3).plus(acceptablePause.multipliedBy(4));
      // No shorter pause can have had this node downed while it did not run: the others find it unreachable only past
      // the acceptable pause, and their resolver waits stable-after more (tester56a: downings of every node after pauses
      // of 5-8 s were said to be the pause's).
      Duration downable = acceptablePause.plus(stableAfter);
      PauseWatch pauses = PauseWatch.get(ctx.getSystem());
      Map<Address, Member> members = new HashMap<>();
      boolean[] selfDowned = {false};
      Set<Address> unreachable = new HashSet<>();
      return Behaviors.receive(ClusterEvent.ClusterDomainEvent.class)
          .onMessage(ClusterEvent.MemberEvent.class, e -> {
            Address address = e.member().address();
            if (e instanceof ClusterEvent.MemberRemoved) members.remove(address);
            else members.put(address, e.member());
            if (e instanceof ClusterEvent.MemberDowned && address.equals(cluster.selfMember().address())) selfDowned[0] = true;
            // Said again as the rest of the same decision arrives (Akka publishes one MemberDowned per member): the
            // resolver's down-all downs every member at once, this one maybe first (tester55e).
            if (e instanceof ClusterEvent.MemberDowned && selfDowned[0]) {
              Map<Address, MemberStatus> counted = new HashMap<>();
              members.values().stream().filter(DowningReason::counted).forEach(m -> counted.put(m.address(), m.status()));
              downedBecause.set(reason(cluster.selfMember().address(), counted, unreachable,
                  pauses.pauseWithin(pauseCounts, downable), pauses.pauseWithin(pauseCounts, acceptablePause), strategy,
                  stableAfter));
            }
            return Behaviors.same();
          })
          .onMessage(ClusterEvent.UnreachableMember.class, e -> {
            unreachable.add(e.member().address());
            return Behaviors.same();
          })
          .onMessage(ClusterEvent.ReachableMember.class, e -> {
            unreachable.remove(e.member().address());
            return Behaviors.same();
          })
          .build();
    });
  }

  private DowningReason() {}
}
