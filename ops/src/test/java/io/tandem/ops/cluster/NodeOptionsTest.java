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
    IllegalArgumentException seed = assertThrows(IllegalArgumentException.class, () -> parse("--seed-nodes", "localhost"));
    assertTrue(seed.getMessage().contains("host:port"), seed.getMessage());
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
  }
}
