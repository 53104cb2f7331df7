package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import io.tandem.protocol.config.InvalidConfigException;
import io.tandem.protocol.config.KnownKeys;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * A {@code tandem.*} key that no reference.conf or application.conf of the node defines is refused
 * at startup with the nearest known key, whichever section it is in; list elements, the Akka
 * dispatcher's own settings and the launcher's JVM properties are not settings to refuse.
 */
class KnownKeysTest {

  /** The problem {@link KnownKeys#check} finds in {@code hocon} over the node's configuration. */
  private static String refusal(String hocon) {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> KnownKeys.check(over(hocon)));
    assertEquals(true, e.getMessage().startsWith("system properties"), "names where the key came from: " + e.getMessage());
    return e.getMessage().substring(e.getMessage().indexOf("unknown key"));
  }

  private static com.typesafe.config.Config over(String hocon) {
    return ConfigFactory.parseString(hocon, ConfigParseOptions.defaults().setOriginDescription("system properties"))
        .withFallback(ConfigFactory.load());
  }

  /**
   * An Akka setting misspelt by a letter or two is named with the one meant (Akka reads only what it
   * defines, so the default stayed in force without a word); what the user defines under {@code akka}
   * (a dispatcher, a serializer, a role's settings) is near nothing Akka defines and is not named.
   */
  @Test
  void aMisspeltAkkaSettingIsNamedWithTheOneMeantAndTheUsersOwnSectionsAreNot() {
    assertEquals(java.util.List.of("system properties: 1: unknown key 'akka.cluster.split-brain-resolver.stable-afer' (did you"
            + " mean akka.cluster.split-brain-resolver.stable-after?)", "system properties: 2: unknown key"
            + " 'akka.clster.failure-detector.acceptable-heartbeat-pause' (did you mean"
            + " akka.cluster.failure-detector.acceptable-heartbeat-pause?)"),
        KnownKeys.nearMisses(over("akka.cluster.split-brain-resolver.stable-afer = 3s\n"
            + "akka.clster.failure-detector.acceptable-heartbeat-pause = 5s"), "akka"));
    assertEquals(java.util.List.of(), KnownKeys.nearMisses(over("""
        akka.cluster.split-brain-resolver.stable-after = 3s
        akka.my-blocking-dispatcher { type = Dispatcher, executor = thread-pool-executor }
        akka.actor.serializers.jackson-cbor2 = "akka.serialization.jackson.JacksonCborSerializer"
        akka.actor.serialization-bindings { "io.example.Message" = jackson-cbor2 }
        akka.cluster.role.large.min-nr-of-members = 1
        akka.actor.external-dispatcher { type = Dispatcher, executor = thread-pool-executor }
        akka.serialization.jackson.serialization-features.WRITE_DATE_KEYS_AS_TIMESTAMPS = on
        akka.serialization.jackson.jackson-cbor2.serialization-features.WRITE_DATES_AS_TIMESTAMPS = off
        akka.serialization.jackson.jackson-json2.compression.algorithm = off
        akka.coordinated-shutdown.phases.before-cluster-shutdown2 { depends-on = [before-cluster-shutdown] }
        akka.actor.default-dispatcher.fork-join-executor.parallelism-max = 4
        akka.actor.internal-dispatcher.fork-join-executor.parallelism-max = 4
        """), "akka"), "a dispatcher of the user's, Jackson's feature names, a binding's own section, a phase of"
        + " its own (tester61f, tester61i)");
    // A misspelt section above a setting of the section meant is named, and two typos alike are two (tester61i).
    assertEquals(java.util.List.of("system properties: 1: unknown key 'akka.clster.role.backend.min-nr-of-members' (did you"
            + " mean akka.cluster.role.backend.min-nr-of-members?)", "system properties: 2: unknown key"
            + " 'akka.actor.default-dispatcher.fork-join-executor.parallelism-mx' (did you mean"
            + " akka.actor.default-dispatcher.fork-join-executor.parallelism-max?)", "system properties: 3: unknown key"
            + " 'akka.actor.internal-dispatcher.fork-join-executor.parallelism-mx' (did you mean"
            + " akka.actor.internal-dispatcher.fork-join-executor.parallelism-max?)"),
        KnownKeys.nearMisses(over("akka.clster.role.backend.min-nr-of-members = 2\n"
            + "akka.actor.default-dispatcher.fork-join-executor.parallelism-mx = 4\n"
            + "akka.actor.internal-dispatcher.fork-join-executor.parallelism-mx = 4"), "akka"));
    // A typo under akka.stream.materializer, which Akka's reference.conf copies into Artery's materializer: once.
    Config unresolved = ConfigFactory.parseString("akka.stream.materializer.initial-input-buffr-size = 8",
            ConfigParseOptions.defaults().setOriginDescription("system properties"))
        .withFallback(ConfigFactory.parseResourcesAnySyntax("application"))
        .withFallback(ConfigFactory.parseResourcesAnySyntax("reference")).resolve();
    assertTrue(unresolved.hasPath("akka.remote.artery.advanced.materializer.initial-input-buffr-size"), "copied by Akka");
    java.util.List<String> once = KnownKeys.nearMisses(unresolved, "akka");
    assertEquals(1, once.size(), once.toString());
    assertTrue(once.get(0).contains("'akka.stream.materializer.initial-input-buffr-size'"), once.toString());
  }

  @Test
  void aMisspeltKeyInAnySectionIsRefusedWithTheNearestKnownKey() {
    assertEquals("unknown key 'tandem.http.prot' (did you mean tandem.http.port?)",
        refusal("tandem.http.prot = 5"));
    assertEquals("unknown key 'tandem.large.thread' (did you mean tandem.large.threads?)",
        refusal("tandem.large.thread = 2"));
    assertEquals("unknown key 'tandem.session.worker-wiat' (did you mean tandem.session.worker-wait?)",
        refusal("tandem.session.worker-wiat = 2s"));
    // The small role's queue is first come, first served: a per-tenant limit there was read and never used.
    assertTrue(refusal("tandem.small.per-tenant-queue-limit = 2").startsWith("unknown key 'tandem.small.per-tenant-queue-limit'"),
        refusal("tandem.small.per-tenant-queue-limit = 2"));
  }

  /**
   * Every setting the README names ({@code tandem.ROLE.x} as both roles) passes the check: a key
   * it documents must be one that some reference.conf or application.conf defines. (The README
   * also names request and response fields such as {@code tandem.max_target_tokens} and {@code
   * tandem.finish_reason}, snake_case as the API's are, where settings are kebab-case; and the
   * request logger {@code tandem.http.requests}, and JVM system properties such as {@code
   * tandem.per-op-decode}: none of them is a setting.)
   */
  @Test
  void everySettingTheReadmeNamesIsAccepted() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    Path readme = Files.isRegularFile(root.resolve("README.md")) ? root.resolve("README.md") : root.getParent().resolve("README.md");
    Matcher m = Pattern.compile("`(tandem\\.[A-Za-z0-9_.-]*[A-Za-z0-9])").matcher(Files.readString(readme));
    Set<String> keys = new TreeSet<>();
    while (m.find()) {
      String key = m.group(1);
      // JVM system properties (-Dtandem.per-op-decode) are named too; a config file may not hold them.
      if (key.contains("_") || key.equals("tandem.http.requests") || KnownKeys.systemProperties().contains(key)) continue;
      if (key.contains("ROLE")) {
        keys.add(key.replace("ROLE", "small"));
        keys.add(key.replace("ROLE", "large"));
      } else {
        keys.add(key);
      }
    }
    assertEquals(true, keys.size() > 20, "the README's settings were found: " + keys);
    for (String key : keys) assertDoesNotThrow(() -> KnownKeys.check(over(key + " = 1")), key);
  }

  @Test
  void everyMisspeltKeyIsRefusedInOneMessageEachWithItsNearestKnownKey() {
    java.util.Properties p = new java.util.Properties();
    p.setProperty("tandem.sesion.worker-wait", "1s");
    p.setProperty("tandem.http.prot", "5");
    Config properties = ConfigFactory.parseProperties(p, ConfigParseOptions.defaults().setOriginDescription("system properties"));
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> KnownKeys.check(properties.withFallback(ConfigFactory.load())));
    assertEquals("system properties: unknown key 'tandem.http.prot' (did you mean tandem.http.port?); unknown key"
        + " 'tandem.sesion.worker-wait' (did you mean tandem.session.worker-wait?)", e.getMessage());
    // Keys from different places (lines of a file) are each named with theirs.
    String twoLines = assertThrows(InvalidConfigException.class,
        () -> KnownKeys.check(over("tandem.http.prot = 5\ntandem.large.thread = 2"))).getMessage();
    assertEquals("system properties: 1: unknown key 'tandem.http.prot' (did you mean tandem.http.port?); system properties: 2:"
        + " unknown key 'tandem.large.thread' (did you mean tandem.large.threads?)", twoLines);
  }

  /** The name that is misspelt is compared with the names beside it, not the whole key with every key. */
  @Test
  void theNearestKeyIsTheOneTheMisspeltNameIsNearest() {
    assertEquals("unknown key 'tandem.http.api-keyz.0.key' (did you mean tandem.http.api-keys.0.key?)",
        refusal("tandem.http.api-keyz.0.key = sk-1"));
    assertEquals("unknown key 'tandem.http.api-keyz' (did you mean tandem.http.api-keys?)", refusal("tandem.http.api-keyz = []"));
    assertEquals("unknown key 'tandem.larg.thread' (did you mean tandem.large.threads?)", refusal("tandem.larg.thread = 2"));
  }

  @Test
  void aMisspeltSectionIsNamedByTheFullKey() {
    assertEquals("unknown key 'tandem.larg.threads' (did you mean tandem.large.threads?)",
        refusal("tandem.larg.threads = 2"));
  }

  @Test
  void aKeyFarFromAnyListsTheKeysBesideIt() {
    String message = refusal("tandem.http.zzzzzzzzzz = 1");
    assertEquals(true, message.startsWith("unknown key 'tandem.http.zzzzzzzzzz' (known keys: tandem.http.")
        && message.contains(" tandem.http.api-keys, tandem.http.api-keys-file, tandem.http.ask-timeout, "), message);
  }

  /**
   * A name far from every name beside it gets no suggestion, however long the section they share:
   * {@code foo} is nothing like {@code begin}, though the whole keys differ in a quarter of their letters.
   */
  @Test
  void aNameFarFromEveryNameBesideItGetsNoSuggestionHoweverLongItsSection() {
    String message = refusal("tandem.speculative.foo = 1");
    assertEquals(true, message.startsWith("unknown key 'tandem.speculative.foo' (known keys: tandem.speculative.add-each-neg,"), message);
    assertEquals("unknown key 'tandem.small-threads' (did you mean tandem.small.threads?)", refusal("tandem.small-threads = 2"),
        "a dot typed as a dash is still near");
  }

  @Test
  void theSpeculativeSectionIsRefusedTheSameWay() {
    assertEquals("unknown key 'tandem.speculative.max_target_tokens'"
        + " (did you mean tandem.speculative.max-target-tokens?)", refusal("tandem.speculative.max_target_tokens = 3"));
  }

  @Test
  void listElementsDispatcherSettingsAndLauncherPropertiesAreAccepted() {
    assertDoesNotThrow(() -> KnownKeys.check(over("""
        tandem.large.devices.0 = "cuda:0"
        tandem.http.api-keys.0 = "sk-1"
        tandem.http.served-model-names.0 = "x"
        tandem.worker-dispatcher.throughput = 1
        tandem.speculative.help-think-word = "Hmm"
        tandem.cluster.seed-nodes = ["127.0.0.1:25520"]
        """)));
  }

  /** System properties read with System.getProperty reach the config as Typesafe overlays them: accepted as such. */
  @Test
  void propertiesGivenWithDashDAreAccepted() {
    System.setProperty("tandem.onednn", "false");
    System.setProperty("tandem.per-op-decode", "true");
    ConfigFactory.invalidateCaches();
    try {
      assertDoesNotThrow(ModelOptions::baseConfig);
    } finally {
      System.clearProperty("tandem.onednn");
      System.clearProperty("tandem.per-op-decode");
      ConfigFactory.invalidateCaches();
    }
  }

  /** In a config file such a property would be taken and never read: refused, saying how to give it. */
  @Test
  void aSystemPropertyWrittenInAConfigFileIsRefused() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> KnownKeys.check(over("tandem.onednn = false")));
    assertTrue(e.getMessage().contains("'tandem.onednn' is a JVM system property, not a setting: give it as"
        + " -Dtandem.onednn=... (in TANDEM_JAVA_OPTS), not in a config file"), e.getMessage());
  }

  /** A switch given another value than true or false is refused before any model loads, whatever precision is asked. */
  @Test
  void aSwitchWithAnotherValueIsRefused() {
    System.setProperty("tandem.onednn", "off");
    ConfigFactory.invalidateCaches();
    try {
      InvalidConfigException e = assertThrows(InvalidConfigException.class, ModelOptions::baseConfig);
      assertEquals("system properties: -Dtandem.onednn=off is neither true nor false (true: float32 matrices on the CPU"
          + " through oneDNN, the default; false: through aten::linear)", e.getMessage());
    } finally {
      System.clearProperty("tandem.onednn");
      ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void aMisspeltSystemPropertyIsToldTheRightName() {
    System.setProperty("tandem.onedn", "false");
    ConfigFactory.invalidateCaches();
    try {
      InvalidConfigException e = assertThrows(InvalidConfigException.class, ModelOptions::baseConfig);
      assertEquals("system properties: unknown key 'tandem.onedn' (did you mean tandem.onednn?)", e.getMessage());
    } finally {
      System.clearProperty("tandem.onedn");
      ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void theNodesConfigurationRefusesAMisspeltSystemProperty() {
    System.setProperty("tandem.http.prot", "5");
    ConfigFactory.invalidateCaches();
    try {
      InvalidConfigException e = assertThrows(InvalidConfigException.class, ModelOptions::baseConfig);
      assertEquals("system properties: unknown key 'tandem.http.prot' (did you mean tandem.http.port?)", e.getMessage());
    } finally {
      System.clearProperty("tandem.http.prot");
      ConfigFactory.invalidateCaches();
    }
  }

  @Test
  void theDefaultsPassTheirOwnCheck() {
    assertDoesNotThrow(() -> KnownKeys.check(ConfigFactory.load()));
  }
}
