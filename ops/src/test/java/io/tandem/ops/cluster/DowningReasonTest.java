package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;

import akka.actor.Address;
import akka.cluster.MemberStatus;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The line a node downed by the split brain resolver exits with says which of Akka's rules downed it. */
class DowningReasonTest {

  private static Address node(int port) {
    return new Address("akka", "tandem", "127.0.0.1", port);
  }

  private static final List<Address> FOUR = List.of(node(18603), node(18601), node(18600), node(18602));

  /** Two of four killed together, the lowest address among them: keep-majority's tie rule downs the healthy half. */
  @Test
  void aHalfDownedForLosingTheTieSaysSoAndToRunAnOddNumberOfNodes() {
    assertEquals("node akka://tandem@127.0.0.1:18603 was removed from the cluster: the split brain resolver (keep-majority)"
            + " downed this node's side: the cluster split into equal halves (2 of 4 members unreachable) and keep-majority"
            + " keeps the half with the lowest address (akka://tandem@127.0.0.1:18600), here the unreachable one; run an odd"
            + " number of nodes, so that one side is always the majority. Start it again to rejoin",
        DowningReason.message("akka://tandem@127.0.0.1:18603", FOUR, Set.of(node(18600), node(18601)), "keep-majority",
            Duration.ofSeconds(7)));
  }

  @Test
  void aNodeCutOffInTheMinorityIsToldItWasCutOff() {
    String cutOff = "node akka://tandem@127.0.0.1:18603 was removed from the cluster: the split brain resolver (keep-majority)"
        + " downed it after it and the other nodes could not reach each other for at least 7 s"
        + " (akka.cluster.split-brain-resolver.stable-after: a long pause, a stopped process or the network). Start it again"
        + " to rejoin";
    assertEquals(cutOff, DowningReason.message("akka://tandem@127.0.0.1:18603", FOUR,
        Set.of(node(18600), node(18601), node(18602)), "keep-majority", Duration.ofSeconds(7)));
    assertEquals(cutOff, DowningReason.message("akka://tandem@127.0.0.1:18603", List.of(), Set.of(), "keep-majority",
        Duration.ofSeconds(7)), "no membership seen: the general line");
  }

  /** Every member downed at once: the resolver's down-all-when-unstable, said as such (tester55e: the line said another node had). */
  @Test
  void aNodeDownedWithEveryOtherIsToldTheResolverDownedThemAll() {
    assertEquals("node akka://tandem@127.0.0.1:18603 was removed from the cluster: the split brain resolver (keep-majority)"
        + " downed every node, this one with them, as the membership kept changing for longer than stable-after and"
        + " down-all-when-unstable (a node stalling while another was being downed, say): Akka's precaution against a split"
        + " brain. Start the nodes again, the orchestrator first",
        DowningReason.everyNodeDowned("akka://tandem@127.0.0.1:18603", "keep-majority"));
  }

  /** A node that did not run is told so, not what its own resolver decided on waking (it downs every member it knew). */
  @Test
  void aNodeThatDidNotRunIsToldSo() {
    assertEquals("node akka://tandem@127.0.0.1:18603 was removed from the cluster: this node did not run for 11.2 s (a long"
        + " GC pause, a stopped process or a frozen VM), so the others could not reach it and the split brain resolver"
        + " (keep-majority) downed it. Start it again to rejoin",
        DowningReason.paused("akka://tandem@127.0.0.1:18603", Duration.ofMillis(11_202), "keep-majority"));
  }

  /** Downed after a stall as another node was being downed: Akka's down-all, which it may not see whole (tester56e). */
  @Test
  void aNodeDownedAfterAStallAsAnotherWasDownedIsToldEveryNodeMayBeDown() {
    assertEquals("node akka://tandem@127.0.0.1:18603 was removed from the cluster: the split brain resolver (keep-majority) downed"
        + " it as another node was being downed while this one stalled for 6.1 s (a GC pause, a stopped process or a frozen"
        + " VM): the membership kept changing for longer than stable-after and down-all-when-unstable, and Akka's precaution"
        + " against a split brain then downs every node. Start again the nodes that no longer run, the orchestrator first",
        DowningReason.stalledWhileAnotherWasDowned("akka://tandem@127.0.0.1:18603", Duration.ofMillis(6_080), "keep-majority"));
  }

  /**
   * A node that could reach every other member was downed by another node (tester55c: a second node's stall while the
   * first was downed made Akka's resolver down every node; the line said this node had been cut off).
   */
  @Test
  void aNodeThatReachedEveryOtherIsToldAnotherNodeDownedIt() {
    assertEquals("node akka://tandem@127.0.0.1:18603 was removed from the cluster: another node downed it, though this node"
        + " could reach every other member: Akka's split brain resolver downs every node when the membership keeps changing"
        + " for longer than stable-after and down-all-when-unstable (a node stalling while another was being downed, say),"
        + " or an operator downed it. Start it again to rejoin",
        DowningReason.message("akka://tandem@127.0.0.1:18603", FOUR, Set.of(), "keep-majority", Duration.ofSeconds(7)));
  }

  private static final Address SELF = node(18603);
  private static final Map<Address, MemberStatus> DOWNED_ALONE =
      Map.of(node(18600), MemberStatus.up(), node(18601), MemberStatus.up(), SELF, MemberStatus.down());

  /**
   * Stopped past what the others wait, it hears of its downing before its failure detector marks them unreachable
   * (a CI run of e3751b80: it was told it stalled as another node was downed, though none was): the pause downed it.
   */
  @Test
  void aNodeDownedAloneAfterALongPauseBlamesThePauseBeforeItFindsTheOthersUnreachable() {
    String paused = DowningReason.paused(SELF.toString(), Duration.ofMillis(12_400), "keep-majority");
    assertEquals(paused, DowningReason.reason(SELF, DOWNED_ALONE, Set.of(), Duration.ofMillis(12_400),
        Duration.ofMillis(12_400), "keep-majority", Duration.ofSeconds(7)), "the others not yet unreachable");
    assertEquals(paused, DowningReason.reason(SELF, DOWNED_ALONE, Set.of(node(18600), node(18601)),
        Duration.ofMillis(12_400), Duration.ofMillis(12_400), "keep-majority", Duration.ofSeconds(7)), "both unreachable");
  }

  /** A stall too short to be downed for, while another member was downed: Akka's down-all, not the pause. */
  @Test
  void aShortStallAsAnotherWasDownedIsNotBlamedOnThePause() {
    Map<Address, MemberStatus> twoDowned =
        Map.of(node(18600), MemberStatus.up(), node(18601), MemberStatus.down(), SELF, MemberStatus.down());
    assertEquals(DowningReason.stalledWhileAnotherWasDowned(SELF.toString(), Duration.ofMillis(6_100), "keep-majority"),
        DowningReason.reason(SELF, twoDowned, Set.of(), null, Duration.ofMillis(6_100), "keep-majority",
            Duration.ofSeconds(7)));
    assertEquals(DowningReason.everyNodeDowned(SELF.toString(), "keep-majority"), DowningReason.reason(SELF,
        Map.of(node(18600), MemberStatus.down(), SELF, MemberStatus.down()), Set.of(),
        Duration.ofMillis(12_400), null, "keep-majority", Duration.ofSeconds(7)),
        "its own resolver downed every member it knew, some still reachable to it: not blamed on the pause alone");
  }

  /**
   * A stall too short to be downed for, no other member down as far as this node knows: it cannot tell its own
   * resolver's downing from a down-all it heard of first, and says both (tester61h: it said another node was being
   * downed, which none was).
   */
  @Test
  void aShortStallWithNoOtherMemberDownSaysWhatMayHaveDownedIt() {
    String line = DowningReason.reason(SELF, DOWNED_ALONE, Set.of(), null, Duration.ofMillis(6_020), "keep-majority",
        Duration.ofSeconds(7));
    assertEquals(DowningReason.stalled(SELF.toString(), Duration.ofMillis(6_020), "keep-majority"), line);
    assertEquals(true, line.contains("stalled for 6 s") && !line.contains("as another node was being downed"), line);
  }

  /** No pause: a node cut off in the minority is told so. */
  @Test
  void aNodeDownedWithoutAPauseIsToldWhatItsMembershipSays() {
    assertEquals(DowningReason.message(SELF.toString(), DOWNED_ALONE.keySet(), Set.of(node(18600), node(18601)),
            "keep-majority", Duration.ofSeconds(7)),
        DowningReason.reason(SELF, DOWNED_ALONE, Set.of(node(18600), node(18601)), null, null, "keep-majority",
            Duration.ofSeconds(7)));
  }
}
