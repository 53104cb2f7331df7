package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tandem.ops.CommandLineMistakesTest.Result;
import java.nio.file.Path;
import java.util.List;
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
    // Akka's own list is written from Tandem's: set there, it was dropped or failed as "Wrong value type" (tester57h).
    Result akka = CommandLineMistakesTest.runWith(Map.of("akka.cluster.seed-nodes.0", "akka://tandem@127.0.0.1:25520"),
        "serve", "--roles", "small", "--cluster-port", "0");
    assertEquals(2, akka.exit(), akka.err());
    assertEquals("tandem serve: akka.cluster.seed-nodes is written from tandem.cluster.seed-nodes: give the seed nodes as"
        + " --seed-nodes host:port,... (or -Dtandem.cluster.seed-nodes.0=host:port, .1, ...)", akka.err());
    Result noHost = CommandLineMistakesTest.run("serve", "--seed-nodes", ":25520", "--cluster-port", "0", "--port", "0");
    assertEquals(2, noHost.exit(), noHost.err());
    assertTrue(noHost.err().contains("seed node ':25520' has no host name or address"), noHost.err());
  }

  /** The fix is on the command line (keys, or a loopback address), as with every other --host mistake. */
  @Test
  void everyInterfaceWithoutApiKeysIsAUsageMistake() {
    Result r = CommandLineMistakesTest.run("serve", "--host", "0.0.0.0", "--port", "0");
    assertEquals(2, r.exit(), r.err());
    assertEquals("tandem serve: refusing to serve 0.0.0.0 with no API keys: give --api-key KEY or --api-keys FILE, or bind 127.0.0.1", r.err());
  }

  /**
   * vLLM's {@code --api-key} and {@code --served-model-name}: an empty, malformed or repeated value is
   * one line naming the flag, exit status 2, before anything loads, and a message never shows a key.
   * A node without the orchestrator role serves no HTTP, so either flag there is refused as {@code --port} is.
   */
  @Test
  void vllmsApiKeyAndServedModelNameMistakesAreOneLineNamingTheFlag() {
    java.util.Map<List<String>, String> refusals = new java.util.LinkedHashMap<>();
    refusals.put(List.of("--api-key", ""), "--api-key is empty; give the key clients must send as Authorization: Bearer KEY");
    refusals.put(List.of("--api-key", " "), "--api-key is blank; give the key clients must send as Authorization: Bearer KEY");
    refusals.put(List.of("--api-key", "sk-1", "sk-2", "sk-1"), "--api-key #3: the same key as --api-key #1; give each key once");
    refusals.put(List.of("--served-model-name", ""), "--served-model-name: a name is empty; give the name(s) clients pass as \"model\"");
    refusals.put(List.of("--served-model-name", "a", "a"), "--served-model-name: a is given twice; give each name once");
    refusals.put(List.of("--roles", "small", "--api-key", "sk-1"), "--api-key: only a node with the orchestrator role serves HTTP;"
        + " leave it out on worker nodes, or add orchestrator to --roles");
    refusals.put(List.of("--roles", "large", "--served-model-name", "x"), "--served-model-name: only a node with the orchestrator"
        + " role serves HTTP; leave it out on worker nodes, or add orchestrator to --roles");
    // Its siblings, which a worker node would ignore without a word (a tester's walk).
    refusals.put(List.of("--roles", "small", "--api-keys", "keys.json"), "--api-keys keys.json: only a node with the orchestrator"
        + " role serves HTTP; leave it out on worker nodes, or add orchestrator to --roles");
    refusals.put(List.of("--roles", "large", "--temperature", "0.2"), "--temperature: only a node with the orchestrator"
        + " role serves HTTP; leave it out on worker nodes, or add orchestrator to --roles");
    refusals.forEach((args, message) -> {
      List<String> all = new java.util.ArrayList<>(List.of("serve", "--cluster-port", "0"));
      if (!args.contains("--roles")) all.addAll(List.of("--port", "0"));
      all.addAll(args);
      Result r = CommandLineMistakesTest.run(all.toArray(String[]::new));
      assertEquals(2, r.exit(), args + ": " + r.err());
      assertEquals("tandem serve: " + message, r.err(), args.toString());
    });
    // The speculative config is the orchestrator's: on a worker node it was read and never used (tester57c).
    String yml = LauncherIT.repo().resolve("protocol/src/test/resources/config/1b_32b.yml").toString();
    Result config = CommandLineMistakesTest.run("serve", "--cluster-port", "0", "--roles", "small", "--config", yml);
    assertEquals(2, config.exit(), config.err());
    assertEquals("tandem serve: --config " + yml + ": the speculative config is the orchestrator's (its sessions run the"
        + " algorithm, the workers only the steps they are sent); give it to the orchestrator node and leave it out on worker"
        + " nodes, or add orchestrator to --roles", config.err());
    Result bad = CommandLineMistakesTest.run("serve", "--port", "0", "--api-key", "sk bad\"key");
    assertEquals(2, bad.exit(), bad.err());
    assertTrue(bad.err().startsWith("tandem serve: --api-key: an API key ") && !bad.err().contains("bad"), bad.err());
    assertTrue(bad.err().endsWith("give a key of those characters, e.g. sk- and letters and digits"), bad.err());
  }

  @Test
  void aKeyFromTheFlagOrTheVariableIsATenantWithoutLimitsBesideTheConfiguredOnes() {
    List<io.tandem.orchestrator.http.TenantSpec> file = List.of(new io.tandem.orchestrator.http.TenantSpec("sk-file", "acme", 8, 0));
    assertEquals(List.of(file.get(0), new io.tandem.orchestrator.http.TenantSpec("sk-a", "api-key", 0, 0),
        new io.tandem.orchestrator.http.TenantSpec("sk-b", "api-key", 0, 0)),
        ServeCommand.withApiKeys(file, List.of("sk-a", "sk-b"), "sk-env"), "the flag wins over the variable");
    assertEquals(List.of(file.get(0), new io.tandem.orchestrator.http.TenantSpec("sk-env", "api-key", 0, 0)),
        ServeCommand.withApiKeys(file, null, "sk-env"));
    assertEquals(file, ServeCommand.withApiKeys(file, null, null));
    UsageError twice = org.junit.jupiter.api.Assertions.assertThrows(UsageError.class,
        () -> ServeCommand.withApiKeys(file, null, "sk-file"));
    assertEquals("TANDEM_API_KEY: the key of tenant acme (from --api-keys, tandem.http.api-keys or tandem.http.api-keys-file);"
        + " give each key once", twice.getMessage());
    UsageError shared = org.junit.jupiter.api.Assertions.assertThrows(UsageError.class, () -> ServeCommand.withApiKeys(
        List.of(new io.tandem.orchestrator.http.TenantSpec("sk-file", "api-key", 1, 0)), List.of("sk-a"), null));
    assertTrue(shared.getMessage().startsWith("--api-key: --api-keys or tandem.http.api-keys has a tenant named api-key"),
        shared.getMessage());
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
