package io.tandem.ops.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The flags that place a node in a cluster become the Akka settings of a cluster member. */
class NodeOptionsTest {

  @CommandLine.Command(name = "node")
  static final class Cmd implements Runnable {
    @CommandLine.Mixin NodeOptions node = new NodeOptions();

    @Override
    public void run() {}
  }

  private static Config parse(String... args) {
    Cmd cmd = new Cmd();
    new CommandLine(cmd).parseArgs(args);
    return ClusterConfig.resolve(cmd.node.apply(ConfigFactory.load()));
  }

  @Test
  void aWorkerNodeJoinsItsSeedsOverArteryWithItsRolesAsClusterRoles() {
    Config c = parse("--roles", "large", "--cluster-port", "25522", "--seed-nodes", "127.0.0.1:25520,127.0.0.1:25521");
    assertEquals("cluster", c.getString("akka.actor.provider"));
    assertEquals("tcp", c.getString("akka.remote.artery.transport"));
    assertEquals("127.0.0.1", c.getString("akka.remote.artery.canonical.hostname"));
    assertEquals(25522, c.getInt("akka.remote.artery.canonical.port"));
    assertEquals(List.of("akka://tandem@127.0.0.1:25520", "akka://tandem@127.0.0.1:25521"), c.getStringList("akka.cluster.seed-nodes"));
    assertEquals(List.of("large"), c.getStringList("akka.cluster.roles"));
    assertEquals("akka.cluster.sbr.SplitBrainResolverProvider", c.getString("akka.cluster.downing-provider-class"));
    assertEquals("keep-majority", c.getString("akka.cluster.split-brain-resolver.active-strategy"));
    assertFalse(c.getBoolean("akka.actor.allow-java-serialization"));
  }

  @Test
  void aNodeWithAllRolesAndNoClusterFlagsStaysOnTheLocalProvider() {
    assertEquals("local", parse().getString("akka.actor.provider"));
    assertEquals("cluster", parse("--cluster").getString("akka.actor.provider"));
    assertEquals("local", parse("--roles", "small", "--no-cluster").getString("akka.actor.provider"));
    Config founder = parse("--roles", "orchestrator", "--cluster-port", "25520");
    assertEquals("cluster", founder.getString("akka.actor.provider"));
    assertTrue(founder.getStringList("akka.cluster.seed-nodes").isEmpty(), "no seeds: the node joins itself");
  }

  @Test
  void badRolesAndSeedsAreRejectedWithWhatToWrite() {
    IllegalArgumentException role = assertThrows(IllegalArgumentException.class, () -> parse("--roles", "medium"));
    assertTrue(role.getMessage().contains("orchestrator, small, large"), role.getMessage());
    assertEquals(List.of("small", "large"), parse("--roles", "small, large").getStringList("tandem.roles"),
        "spaces around the commas are taken, as --seed-nodes takes them");
    for (String empty : new String[] {",small", "small,,large", "small, ,large", " "}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse("--roles", empty));
      assertTrue(e.getMessage().equals("--roles '" + empty + "' lists an empty role; give one or more of orchestrator, small,"
          + " large (comma-separated)"), e.getMessage());
    }
    IllegalArgumentException seed = assertThrows(IllegalArgumentException.class, () -> parse("--seed-nodes", "localhost"));
    assertTrue(seed.getMessage().contains("host:port"), seed.getMessage());
  }

  /** The first seed waits longer before it founds a cluster; the others retry their joins at Akka's interval. */
  @Test
  void onlyTheFirstSeedNodeWaitsLongerForTheOthersBeforeFoundingACluster() {
    String seeds = "127.0.0.1:25520,127.0.0.1:25521";
    assertEquals(java.time.Duration.ofSeconds(20), parse("--roles", "orchestrator", "--cluster-port", "25520", "--seed-nodes", seeds)
        .getDuration("akka.cluster.seed-node-timeout"));
    assertEquals(java.time.Duration.ofSeconds(5), parse("--roles", "small", "--cluster-port", "25521", "--seed-nodes", seeds)
        .getDuration("akka.cluster.seed-node-timeout"), "Akka's default");
    assertEquals(java.time.Duration.ofSeconds(8), apply("akka.cluster.seed-node-timeout = 8s", "--roles", "orchestrator",
        "--cluster-port", "25520", "--seed-nodes", seeds).getDuration("akka.cluster.seed-node-timeout"), "a timeout set is the user's");
  }

  /** Read only while the node joins, it is checked with the rest, before the node starts. */
  @Test
  void aJoinWarningThatIsNoDurationIsRefusedBeforeTheNodeStarts() {
    Cmd cmd = new Cmd();
    new CommandLine(cmd).parseArgs("--cluster");
    Config node = ConfigFactory.parseString("tandem.cluster.join-warning-after = abc").withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.resolve(cmd.node.apply(node)));
    assertEquals("tandem.cluster.join-warning-after must be a duration, like 30s, 500ms or 2m, got the string \"abc\"", e.getMessage());
  }

  private static Config apply(String conf, String... args) {
    Cmd cmd = new Cmd();
    new CommandLine(cmd).parseArgs(args);
    return ClusterConfig.resolve(cmd.node.apply(ConfigFactory.parseString(conf).withFallback(ConfigFactory.load())));
  }

  /** README gives tandem.cluster.enabled and the placement keys as the flags' settings: each acts as its flag. */
  @Test
  void theClusterSettingsActAsTheirFlags() {
    assertEquals("local", apply("tandem.cluster.enabled = off", "--roles", "orchestrator,small").getString("akka.actor.provider"));
    assertEquals("cluster", parse("--roles", "orchestrator,small").getString("akka.actor.provider"),
        "application.conf's off is no choice: fewer roles still make a member");
    assertEquals("cluster", apply("tandem.cluster.enabled = off", "--cluster").getString("akka.actor.provider"), "a flag overrides its setting");
    Config seeded = apply("tandem.cluster.seed-nodes = [\"127.0.0.1:25520\"]");
    assertEquals("cluster", seeded.getString("akka.actor.provider"), "a seed-nodes setting places a node of all roles, as --seed-nodes does");
    assertEquals(List.of("akka://tandem@127.0.0.1:25520"), seeded.getStringList("akka.cluster.seed-nodes"));
    IllegalArgumentException both = assertThrows(IllegalArgumentException.class,
        () -> apply("tandem.cluster.enabled = off\ntandem.cluster.hostname = \"10.0.0.1\""));
    assertTrue(both.getMessage().startsWith("tandem.cluster.enabled = off and tandem.cluster.hostname contradict each other"),
        both.getMessage());
  }

  @Test
  void aSeedNodeIsCheckedForItsHostAndPortRangeInBothForms() {
    assertThrows(IllegalArgumentException.class, () -> ClusterConfig.address("tandem", "127.0.0.1:65536"));
    assertThrows(IllegalArgumentException.class, () -> ClusterConfig.address("tandem", "akka://tandem@127.0.0.1:0"));
    assertThrows(IllegalArgumentException.class, () -> ClusterConfig.address("tandem", "akka://tandem127.0.0.1:25520"));
    assertThrows(IllegalArgumentException.class, () -> ClusterConfig.address("tandem", " :25520"));
    assertEquals("akka://tandem@127.0.0.1:65535", ClusterConfig.address("tandem", "127.0.0.1:65535"));
    assertEquals("akka://tandem@[::1]:25520", ClusterConfig.address("tandem", "[::1]:25520"));
    assertEquals("akka://tandem@127.0.0.1:25520", ClusterConfig.address("tandem", "akka://tandem@127.0.0.1:25520"));
  }

  /** Akka never joins a node of another actor system: it would only retry, then blame the seed node. */
  @Test
  void aSeedNodeOfAnotherActorSystemIsRefusedNamingTheClustersOwn() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.address("tandem", "akka://other@127.0.0.1:25520"));
    assertEquals("seed node 'akka://other@127.0.0.1:25520' names the actor system 'other', but this cluster's is 'tandem'"
        + " (tandem.cluster.system-name): write akka://tandem@127.0.0.1:25520, or just 127.0.0.1:25520", e.getMessage());
  }

  /** A seed's host Akka's address parser would refuse is named before anything loads (tester57c: a bare RuntimeException). */
  @Test
  void aSeedNodeWhoseHostIsNoHostIsRefusedNamingIt() {
    for (String seed : List.of("127.0.0.1:18310;127.0.0.1:18312", "127.0.0.1:18310:18312", "my_host:18310", "::1:18310",
        // What a pattern of letters, digits, dots and dashes let by, and Akka's parser refuses (tester57e).
        "999.999.999.999:18510", "10.0.0:18510", "host-:18510", "-node:18510", "a..b:18510", "[1.2.3.4]:18510", "[:]:18510")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClusterConfig.address("tandem", seed));
      assertTrue(e.getMessage().startsWith("seed node '" + seed + "' has the host '") && e.getMessage().endsWith(
          "which is no host name or address (letters, digits, '-' and '.'; an IPv6 address in brackets, [::1]:25520); give"
          + " each seed as host:port, the seeds separated by commas"), e.getMessage());
    }
    for (String seed : List.of("[::1]:25520", "node-1.example:25520", "127.0.0.1:25520", "vm:25520"))
      assertEquals("akka://tandem@" + seed, ClusterConfig.address("tandem", seed));
    assertEquals("seed node 'http://127.0.0.1:25520' has the scheme 'http://': give host:port (e.g. 127.0.0.1:25520), or"
        + " akka://tandem@host:port", assertThrows(IllegalArgumentException.class,
            () -> ClusterConfig.address("tandem", "http://127.0.0.1:25520")).getMessage());
    assertEquals("seed node '127.0.0.1:1 127.0.0.1:2' holds a space: give each seed as host:port, the seeds separated by"
        + " commas (127.0.0.1:25520,127.0.0.1:25521)", assertThrows(IllegalArgumentException.class,
            () -> ClusterConfig.address("tandem", "127.0.0.1:1 127.0.0.1:2")).getMessage());
    assertEquals("seed node '[::1]' is not host:port (e.g. 127.0.0.1:25520)", assertThrows(IllegalArgumentException.class,
        () -> ClusterConfig.address("tandem", "[::1]")).getMessage());
  }

  /** A port written with a leading zero is the port: the node knows itself among its seeds (tester57h). */
  @Test
  void aSeedPortIsWrittenAsItsNumber() {
    assertEquals("akka://tandem@127.0.0.1:18812", ClusterConfig.address("tandem", "127.0.0.1:018812"));
    assertEquals("akka://tandem@127.0.0.1:18812", ClusterConfig.address("tandem", "akka://tandem@127.0.0.1:018812"));
  }
}
