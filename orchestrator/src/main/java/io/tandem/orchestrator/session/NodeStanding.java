package io.tandem.orchestrator.session;

import akka.actor.CoordinatedShutdown;
import akka.actor.typed.ActorSystem;
import akka.cluster.ClusterEvent;
import akka.cluster.Member;
import akka.cluster.MemberStatus;
import akka.cluster.typed.Cluster;

/**
 * Whether this node is out of touch with its cluster, by Akka's membership: on its way out
 * (downed, removed, leaving) or cut off from every other member. A session or request that then
 * finds no worker should say so, rather than blame the workers or advise another mode: the
 * workers may serve on for the other nodes, only not for this one.
 */
public final class NodeStanding {
  private NodeStanding() {}

  /** What a session of a node downed by the cluster is told, whichever way this node learnt it. */
  public static final String DOWNED = "this node was downed and removed from the cluster (the other nodes could not reach it"
      + " for a while: a long pause, a stopped process or the network; or the split brain resolver downed every node, the"
      + " membership changing for too long; or an operator downed it)";

  /**
   * Why this node cannot reach the cluster's workers, or null when it can (or is no cluster
   * member at all): a node downed (by the split brain resolver of either side, after the others
   * could not reach it for {@code stable-after}, or by an operator), one leaving (shutting down),
   * one just back from a pause long enough for the others to have downed it ({@link PauseWatch}),
   * or one that finds every other member unreachable, two or more (after a long pause or a network
   * cut, until the split brain resolver decides).
   */
  public static String outOfTouch(ActorSystem<?> system) {
    String gone = gone(system);
    if (gone != null) return gone;
    return cutOff(system);
  }

  /**
   * Of {@link #outOfTouch}, what will not pass: this node downed, leaving, or back from a pause it
   * was most likely downed for; null when none is so. A request then has nothing to wait for here.
   */
  public static String gone(ActorSystem<?> system) {
    if (!RoleSupply.get(system).clustered()) return null;
    // A node that sees itself downed shuts its cluster down at once, and its view of the membership may stop before
    // it says Down (the event can be lost with the cluster's publisher): the shutdown's reason says it either way.
    if (CoordinatedShutdown.get(system).getShutdownReason().filter(r -> r == CoordinatedShutdown.clusterDowningReason())
        .isPresent()) return DOWNED;
    Cluster cluster = Cluster.get(system);
    MemberStatus status = cluster.selfMember().status();
    if (status.equals(MemberStatus.down()) || status.equals(MemberStatus.removed())) return DOWNED;
    if (status.equals(MemberStatus.leaving()) || status.equals(MemberStatus.exiting()))
      return "this node is leaving the cluster (it is shutting down)";
    // Back from a pause the others down a node for, its view of the cluster still looks whole for some seconds.
    return PauseWatch.get(system).standing();
  }

  /**
   * Whether the member at {@code node} is downed, as this node's cluster sees it now: it will not
   * serve again (Akka removes it once the members reachable converge, which another member
   * unreachable delays). False outside a cluster, and for an address that is no member.
   */
  public static boolean downed(ActorSystem<?> system, akka.actor.Address node) {
    if (!RoleSupply.get(system).clustered()) return false;
    for (Member m : Cluster.get(system).state().getMembers())
      if (m.address().equals(node)) return m.status().equals(MemberStatus.down());
    return false;
  }

  /**
   * Of {@link #outOfTouch}, what may pass: this node finds every other member unreachable, two or
   * more. A member already downed is left out: its unreachability was decided, and says nothing of
   * this node's (tester55a: the large node downed and not yet removed, the small node unreachable
   * for a second, and sessions waiting for the large worker failed as if this node were cut off).
   */
  private static String cutOff(ActorSystem<?> system) {
    if (!RoleSupply.get(system).clustered()) return null;
    Cluster cluster = Cluster.get(system);
    ClusterEvent.CurrentClusterState state = cluster.state();
    int others = 0;
    int unreachable = 0;
    for (Member m : state.getMembers()) {
      if (m.address().equals(cluster.selfMember().address()) || m.status().equals(MemberStatus.down())) continue;
      others++;
      if (state.getUnreachable().contains(m)) unreachable++;
    }
    // Alone against two or more, this node is the likelier one cut off (and keep-majority downs it);
    // against one other, either may be: that is left to the usual messages.
    if (others >= 2 && unreachable == others)
      return "this node cannot reach any other node of the cluster (after a long pause, a stopped process or the network;"
          + " unless they are reachable again within akka.cluster.split-brain-resolver.stable-after, one side is downed)";
    return null;
  }
}
