package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.ops.CommandLineMistakesTest.Result;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Where {@code serve} places a node and where it listens, given by a flag or by its setting alike
 * (README, "a cluster"): a mistake is one line and exit status 2 before anything loads or binds. A
 * refusal that does not come would start a node that runs until stopped: the timeout fails it instead.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ServePlacementMistakesTest {

  private static final String ALONE = " runs this node alone (Akka's local provider: no cluster to join, no port to listen on);";

  /** {@code tandem.cluster.enabled = off} is {@code --no-cluster}: a worker-only node alone is refused as with the flag. */
  @Test
  void clusterEnabledOffRunsAPartialNodeAloneAsNoClusterDoes() {
    Result r = CommandLineMistakesTest.runWith(Map.of("tandem.cluster.enabled", "false", "tandem.roles.0", "small"), "serve");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: tandem.cluster.enabled = off with the roles small: outside a cluster no orchestrator can reach"
        + " this node's workers; add orchestrator to --roles to serve HTTP from this node, or leave out tandem.cluster.enabled"
        + " = off and give --seed-nodes to join a cluster", r.err());
  }

  @Test
  void aPlacementFromASettingContradictsNoClusterAsItsFlagDoes() {
    Result seeds = CommandLineMistakesTest.runWith(Map.of("tandem.cluster.seed-nodes.0", "127.0.0.1:18060"),
        "serve", "--no-cluster", "--port", "0");
    assertEquals(2, seeds.exit(), seeds.err());
    assertEquals("tandem serve: --no-cluster and tandem.cluster.seed-nodes contradict each other: --no-cluster" + ALONE
        + " leave out --no-cluster to make it a cluster member, or leave out tandem.cluster.seed-nodes to run it alone", seeds.err());
    Result off = CommandLineMistakesTest.runWith(Map.of("tandem.cluster.enabled", "off"),
        "serve", "--roles", "orchestrator,small", "--cluster-port", "0", "--port", "0");
    assertEquals(2, off.exit(), off.err());
    assertTrue(off.err().startsWith("tandem serve: tandem.cluster.enabled = off and --cluster-port contradict each other:"
        + " tandem.cluster.enabled = off" + ALONE), off.err());
  }

  /** Akka would take it, fail every send with a stack trace and wait a minute for a join that never comes. */
  @Test
  void aSeedNodePortOutOfRangeIsRefusedAtOnceFromTheFlagOrTheSetting() {
    Result flag = CommandLineMistakesTest.run("serve", "--seed-nodes", "127.0.0.1:99999", "--cluster-port", "0", "--port", "0");
    assertEquals(2, flag.exit(), flag.err());
    assertEquals("tandem serve: --seed-nodes: seed node '127.0.0.1:99999' has the port 99999, out of range: use 1-65535"
        + " (the seed node's --cluster-port)", flag.err());
    Result setting = CommandLineMistakesTest.runWith(Map.of("tandem.cluster.seed-nodes.0", "127.0.0.1:0"),
        "serve", "--cluster-port", "0", "--port", "0");
    assertEquals(2, setting.exit(), setting.err());
    assertTrue(setting.err().startsWith("tandem serve: tandem.cluster.seed-nodes: seed node '127.0.0.1:0' has the port 0,"),
        setting.err());
    Result noHost = CommandLineMistakesTest.run("serve", "--seed-nodes", ":25520", "--cluster-port", "0", "--port", "0");
    assertEquals(2, noHost.exit(), noHost.err());
    assertTrue(noHost.err().contains("seed node ':25520' has no host name or address"), noHost.err());
  }

  /** The fix is on the command line (keys, or a loopback address), as with every other --host mistake. */
  @Test
  void everyInterfaceWithoutApiKeysIsAUsageMistake() {
    Result r = CommandLineMistakesTest.run("serve", "--host", "0.0.0.0", "--port", "0");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: refusing to serve 0.0.0.0 with no API keys: give --api-keys FILE, or bind 127.0.0.1", r.err());
  }

  /** A relative scripted: path is taken from the working folder, which the message names. */
  @Test
  void aRelativeScriptThatIsNotThereNamesTheFolderItWasLookedFor() {
    Result r = CommandLineMistakesTest.run("generate", "--prompt", "x", "--quiet",
        "--small", "scripted:no/such/small.json", "--large", "scripted:no/such/large.json");
    assertEquals(1, r.exit(), r.err());
    assertTrue(r.err().contains("no such file no/such/small.json (a relative path is taken from the folder the command runs in, "
        + Path.of("").toAbsolutePath() + ")"), r.err());
  }
}
