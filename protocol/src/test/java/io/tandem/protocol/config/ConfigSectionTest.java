package io.tandem.protocol.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class ConfigSectionTest {

  private static final Config NODE = ConfigFactory.parseString("tandem.http { max-body-size = 1MiB, port = 8080 }");

  /** Values as -Dtandem.http.KEY=VALUE gives them: from "system properties", as strings. */
  private static Config systemProperty(String key, String value) {
    java.util.Properties p = new java.util.Properties();
    p.setProperty(key, value);
    return ConfigFactory.parseProperties(p, com.typesafe.config.ConfigParseOptions.defaults().setOriginDescription("system properties"))
        .withFallback(NODE);
  }

  /** The message {@link ConfigSection#read} refuses {@code value} of {@code tandem.http.KEY} with, read by {@code read}. */
  private static String refusal(String key, String value, java.util.function.Function<Config, Object> read) {
    return assertThrows(InvalidConfigException.class,
        () -> ConfigSection.read(systemProperty("tandem.http." + key, value), "tandem.http", read::apply)).getMessage();
  }

  @Test
  void aValueOfTheWrongTypeIsOneLineNamingItsFullKeyWhatItTakesAndTheValueGiven() {
    assertEquals("tandem.http.max-body-size must be a size in bytes, like 512MiB or 2GiB, got the string \"lots\"",
        refusal("max-body-size", "lots", c -> c.getBytes("max-body-size")));
    assertEquals("tandem.http.port must be a number, got the string \"abc\"", refusal("port", "abc", c -> c.getInt("port")));
    assertEquals("tandem.http.ask-timeout must be a duration, like 30s, 500ms or 2m, got the string \"abc\"",
        refusal("ask-timeout", "abc", c -> c.getDuration("ask-timeout")));
    assertEquals("tandem.http.ask-timeout must be a duration, like 30s, 500ms or 2m, got the string \"10 parsecs\"",
        refusal("ask-timeout", "10 parsecs", c -> c.getDuration("ask-timeout")));
    assertEquals("tandem.http.port must be a whole number up to 2147483647, got 3000000000",
        refusal("port", "3000000000", c -> c.getInt("port")));
    assertEquals("tandem.http.open must be true or false (on or off), got the string \"maybe\"",
        refusal("open", "maybe", c -> c.getBoolean("open")));
    assertEquals("tandem.http.served-model-names must be a list, like [a, b], got the string \"x\"; a -D option gives a list"
        + " one element at a time: -Dtandem.http.served-model-names.0=x",
        refusal("served-model-names", "x", c -> c.getStringList("served-model-names")));
  }

  /**
   * A value a config file gave is refused naming the file and line, as an unknown key there is
   * (tester43b: "tandem.http.max-in-flight must be ..., got -5" did not say which file of several).
   */
  @Test
  void aValueAConfigFileGaveIsNamedWithItsFileAndLine(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("node.conf"), "# a node\ntandem.http.max-in-flight = -5\n"
        + "tandem.http.port = x\n");
    Config c = ConfigFactory.parseFile(file.toFile()).withFallback(NODE);
    assertEquals(file + ": 2: tandem.http.max-in-flight must be from 0 to 10 (0: no limit), got -5", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.read(c, "tandem.http", s -> ConfigSection.within(
            "tandem.http.max-in-flight", s.getInt("max-in-flight"), 0, 10, "0: no limit"))).getMessage());
    assertEquals(file + ": 2: tandem.http.max-in-flight must be a whole number up to 10, got -5", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.read(c, "tandem.http", s -> {
          throw new IllegalArgumentException("tandem.http.max-in-flight must be a whole number up to 10, got -5");
        })).getMessage());
    assertEquals(file + ": 3: tandem.http.port must be a number, got the string \"x\"", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.read(c, "tandem.http", s -> s.getInt("port"))).getMessage());
    // An entry of a list is found at its own line.
    java.nio.file.Path keys = java.nio.file.Files.writeString(dir.resolve("keys.conf"), "tandem.http.api-keys = [\n"
        + "  {key = a, tenant = a},\n  {key = b, tenant = b}\n]\n");
    Config k = ConfigFactory.parseFile(keys.toFile()).withFallback(NODE);
    assertEquals(keys + ": 3: tandem.http.api-keys[1]: refused", assertThrows(InvalidConfigException.class,
        () -> ConfigSection.read(k, "tandem.http", s -> {
          throw new IllegalArgumentException("tandem.http.api-keys[1]: refused");
        })).getMessage());
    assertEquals("tandem.http.max-body-size must be a number, got 1048576", assertThrows(InvalidConfigException.class,
        () -> ConfigSection.read(c, "tandem.http", s -> {
          throw new IllegalArgumentException("tandem.http.max-body-size must be a number, got 1048576");
        })).getMessage(), "a value of no file (the defaults) is named by its key alone");
  }

  /**
   * Typesafe Config's getInt reads 0.5 as 0, which for max-in-flight means "no limit", and
   * 18253.9 as port 18253: a whole number given with a fraction is refused, as it was given.
   */
  @Test
  void aWholeNumberGivenWithAFractionIsRefusedNotCut() {
    assertEquals("tandem.http.max-in-flight must be a whole number, got 0.5",
        refusal("max-in-flight", "0.5", c -> c.getInt("max-in-flight")));
    assertEquals("tandem.http.port must be a whole number, got 18253.9", refusal("port", "18253.9", c -> c.getInt("port")));
    assertEquals("tandem.http.budget must be a whole number, got 1.5", refusal("budget", "1.5", c -> c.getLong("budget")));
    Config file = ConfigFactory.parseString("tandem.http.max-in-flight = 1.5").withFallback(NODE);
    assertEquals("tandem.http.max-in-flight must be a whole number, got 1.5", assertThrows(InvalidConfigException.class,
        () -> ConfigSection.read(file, "tandem.http", c -> c.getInt("max-in-flight"))).getMessage(), "a number in a file too");
    assertEquals("tandem.http.max-body-size must be a whole number of bytes or a size like 512MiB or 2GiB, got 0.5",
        refusal("max-body-size", "0.5", c -> c.getBytes("max-body-size")));
    // What has no fraction is read as before, however it is written.
    assertEquals(Integer.valueOf(1000),
        ConfigSection.read(systemProperty("tandem.http.max-in-flight", "1e3"), "tandem.http", c -> c.getInt("max-in-flight")));
    assertEquals(Integer.valueOf(2),
        ConfigSection.read(systemProperty("tandem.http.max-in-flight", "2.0"), "tandem.http", c -> c.getInt("max-in-flight")));
    assertEquals(Long.valueOf(1L << 30), ConfigSection.read(systemProperty("tandem.http.max-body-size", "1.0GiB"), "tandem.http",
        c -> c.getBytes("max-body-size")));
  }

  /** Typesafe Config reads a number beyond a long as the largest long: the message names the number given. */
  @Test
  void aNumberBeyondALongIsRefusedAsGiven() {
    assertEquals("tandem.http.kv-cache-bytes must be a size in bytes up to 9223372036854775807, like 512MiB or 2GiB,"
        + " got 99999999999999999999999", refusal("kv-cache-bytes", "99999999999999999999999", c -> c.getBytes("kv-cache-bytes")));
    assertEquals("tandem.http.budget must be a whole number up to 9223372036854775807, got 99999999999999999999999",
        refusal("budget", "99999999999999999999999", c -> c.getLong("budget")));
  }

  /** A -D option gives every value as a string; one that is a number is quoted as the number. */
  @Test
  void aNumberFromASystemPropertyIsShownAsANumber() {
    assertEquals("tandem.http.kv-cache-bytes must be a size in bytes from 0 up, like 512MiB or 2GiB, got -1",
        refusal("kv-cache-bytes", "-1", c -> c.getBytes("kv-cache-bytes")));
  }

  /**
   * A size of 1 to 1,023 without its unit, read as bytes, is never meant: refused, as a duration without its unit is
   * (tester59c: max-body-size = 1 left a server that took no request). 0 and 1,024 on stay bytes.
   */
  @Test
  void aSmallSizeWithoutItsUnitIsRefusedNotReadAsBytes() {
    assertEquals("tandem.http.max-body-size must be a size with its unit, like 10MiB or 10KiB (a number alone is bytes, and"
        + " fewer than 1024 are never meant), got 10", refusal("max-body-size", "10", c -> c.getBytes("max-body-size")));
    assertEquals("tandem.http.kv-cache-bytes must be a size with its unit, like 2MiB or 2KiB (a number alone is bytes, and"
        + " fewer than 1024 are never meant), got 2", refusal("kv-cache-bytes", "2", c -> c.getMemorySize("kv-cache-bytes")));
    assertEquals(Long.valueOf(0), ConfigSection.read(systemProperty("tandem.http.a", "0"), "tandem.http", c -> c.getBytes("a")));
    assertEquals(Long.valueOf(1024), ConfigSection.read(systemProperty("tandem.http.a", "1024"), "tandem.http", c -> c.getBytes("a")));
    assertEquals(Long.valueOf(10L << 20), ConfigSection.read(systemProperty("tandem.http.a", "10MiB"), "tandem.http", c -> c.getBytes("a")));
  }

  /** Typesafe Config reads a bare number as milliseconds, where every default is written 30s: a unit is required. */
  @Test
  void aDurationWithoutItsUnitIsRefusedNotReadAsMilliseconds() {
    assertEquals("tandem.http.shutdown-deadline must be a duration with its unit, like 30s or 30ms, got 30",
        refusal("shutdown-deadline", "30", c -> c.getDuration("shutdown-deadline")));
    Config file = ConfigFactory.parseString("tandem.http.worker-wait = 10").withFallback(NODE);
    assertEquals("tandem.http.worker-wait must be a duration with its unit, like 10s or 10ms, got 10", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.read(file, "tandem.http", c -> c.getDuration("worker-wait"))).getMessage());
    assertEquals("tandem.http.ask-timeout must be a duration with its unit, like 1.5s or 1.5ms, got 1.5",
        refusal("ask-timeout", "1.5", c -> c.getDuration("ask-timeout", java.util.concurrent.TimeUnit.SECONDS)));
    // 0s or -5s may be refused in turn (a timeout must be positive): the example is one that any duration key takes.
    // 0 is 0 in every unit (tester59e).
    assertEquals(Duration.ZERO, ConfigSection.read(systemProperty("tandem.http.a", "0"), "tandem.http", c -> c.getDuration("a")));
    assertEquals("tandem.http.ask-timeout must be a duration with its unit, like 30s or 500ms, got -5",
        refusal("ask-timeout", "-5", c -> c.getDuration("ask-timeout")));
    // A hex float takes no unit after it (0x1p3s is no duration): the example is in decimal digits.
    assertEquals("tandem.http.ask-timeout must be a duration with its unit, like 8s or 8ms, got 0x1p3",
        refusal("ask-timeout", "0x1p3", c -> c.getDuration("ask-timeout")));
    assertEquals(Duration.ofSeconds(30), ConfigSection.read(systemProperty("tandem.http.a", "30s"), "tandem.http", c -> c.getDuration("a")));
    assertEquals(Duration.ofDays(2), ConfigSection.read(systemProperty("tandem.http.a", "2d"), "tandem.http", c -> c.getDuration("a")));
    assertEquals(Duration.ofMillis(30), ConfigSection.read(systemProperty("tandem.http.a", "30 ms"), "tandem.http", c -> c.getDuration("a")));
  }

  /** A timeout beyond Akka's scheduler (about 248 days) failed only when scheduled: a request hung or got a 500. */
  @Test
  void aDurationBeyondWhatAkkasSchedulerTakesIsRefused() {
    assertEquals("tandem.http.worker-wait must be a duration of at most 21474835s (248 days, the longest delay Akka's"
        + " scheduler takes), got 300d", refusal("worker-wait", "300d", c -> c.getDuration("worker-wait")));
    assertEquals(Duration.ofDays(248), ConfigSection.read(systemProperty("tandem.http.a", "248d"), "tandem.http", c -> c.getDuration("a")));
  }

  /**
   * A section read within the section {@link ConfigSection#read} gives is as strict, and names a
   * value it refuses by its full key (Typesafe Config's own {@code getConfig} forgets the path).
   */
  @Test
  void aSectionWithinTheSectionIsAsStrictAndNamesItsKeysInFull() {
    assertEquals("tandem.http.limits.max-in-flight must be a whole number, got 0.5",
        refusal("limits.max-in-flight", "0.5", c -> c.getConfig("limits").getInt("max-in-flight")));
    assertEquals("tandem.http.limits.drain.deadline must be a duration with its unit, like 30s or 30ms, got 30",
        refusal("limits.drain.deadline", "30", c -> c.getConfig("limits").getConfig("drain").getDuration("deadline")));
    assertEquals("tandem.http.limits.max-in-flight must be a number, got the string \"lots\"",
        refusal("limits.max-in-flight", "lots", c -> c.getConfig("limits").getInt("max-in-flight")));
    assertEquals("tandem.http.limits.queue: missing",
        refusal("limits.max-in-flight", "1", c -> c.getConfig("limits").getInt("queue")));
    assertEquals("tandem.http.limits.max-in-flight must be a whole number, got 0.5", refusal("limits.max-in-flight", "0.5",
        c -> c.getConfig("limits").withFallback(ConfigFactory.parseString("queue = 1")).getInt("max-in-flight")),
        "a section changed stays strict");
    Config list = ConfigFactory.parseString("tandem.http.tiers = [{max-in-flight = 2}, {max-in-flight = 1.5}]").withFallback(NODE);
    assertEquals("tandem.http.tiers[1].max-in-flight must be a whole number, got 1.5", assertThrows(InvalidConfigException.class,
        () -> ConfigSection.read(list, "tandem.http", c -> c.getConfigList("tiers").stream().mapToInt(t -> t.getInt("max-in-flight"))
            .sum())).getMessage());
    assertEquals(Integer.valueOf(3), ConfigSection.read(systemProperty("tandem.http.limits.max-in-flight", "3"), "tandem.http",
        c -> c.getConfig("limits").getInt("max-in-flight")), "a whole number is read as before");
  }

  /**
   * A -D option cannot give a list in one value ({@code -Dtandem.roles=small,orchestrator} and
   * {@code -Dtandem.roles=[small, orchestrator]} are strings): the message gives the options that do.
   */
  @Test
  void aListGivenAsOneSystemPropertyIsAnsweredWithTheOptionsThatGiveIt() {
    assertEquals("tandem.http.served-model-names must be a list, like [a, b], got the string \"a,b\"; a -D option gives a list"
        + " one element at a time: -Dtandem.http.served-model-names.0=a -Dtandem.http.served-model-names.1=b",
        refusal("served-model-names", "a,b", c -> c.getStringList("served-model-names")));
    assertEquals("tandem.http.served-model-names must be a list, like [a, b], got the string \"[x, y]\"; a -D option gives a list"
        + " one element at a time: -Dtandem.http.served-model-names.0=x -Dtandem.http.served-model-names.1=y",
        refusal("served-model-names", "[x, y]", c -> c.getStringList("served-model-names")));
    Config file = ConfigFactory.parseString("tandem.http.served-model-names = x").withFallback(NODE);
    assertEquals("tandem.http.served-model-names must be a list, like [a, b], got the string \"x\"", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.read(file, "tandem.http", c -> c.getStringList("served-model-names")))
        .getMessage(), "in a file, brackets make a list");
  }

  /** A key that may be infinite (akka-http's request-timeout) reads the word as no timeout, and is strict otherwise. */
  @Test
  void aTimeoutThatMayBeInfiniteReadsTheWordAndIsStrictOtherwise() {
    assertEquals(ConfigSection.INFINITE, ConfigSection.read(systemProperty("tandem.http.request-timeout", "infinite"), "tandem.http",
        c -> ConfigSection.durationOrInfinite(c, "request-timeout")));
    assertEquals(Duration.ofHours(1), ConfigSection.read(systemProperty("tandem.http.request-timeout", "1h"), "tandem.http",
        c -> ConfigSection.durationOrInfinite(c, "request-timeout")));
    assertEquals("tandem.http.request-timeout must be a duration with its unit, like 30s or 30ms, got 30",
        refusal("request-timeout", "30", c -> ConfigSection.durationOrInfinite(c, "request-timeout")));
    assertEquals("tandem.http.request-timeout must be a duration, like 30s, 500ms or 2m, or infinite, got the string \"abc\"",
        refusal("request-timeout", "abc", c -> ConfigSection.durationOrInfinite(c, "request-timeout")));
    assertEquals("infinite", ConfigSection.asAkkaSetting(ConfigSection.INFINITE));
    assertEquals("1500ms", ConfigSection.asAkkaSetting(Duration.ofMillis(1500)));
  }

  @Test
  void aListOrASectionWhereOneValueGoesIsNamedSo() {
    Config list = ConfigFactory.parseString("tandem.http.port = [1, 2]").withFallback(NODE);
    assertEquals("tandem.http.port must be a number, got a list",
        assertThrows(InvalidConfigException.class, () -> ConfigSection.read(list, "tandem.http", c -> c.getInt("port"))).getMessage());
    // -Dtandem.http.ask-timeout.0=5s makes the key a section of numbered keys.
    assertEquals("tandem.http.ask-timeout must be one value (text, a number, a duration or a size), not a list or a section,"
        + " got an object", refusal("ask-timeout.0", "5s", c -> c.getDuration("ask-timeout")));
  }

  @Test
  void whatTypesafeConfigSaysIsNeitherItsOriginNorOnSeveralLines() {
    com.typesafe.config.ConfigException e = assertThrows(com.typesafe.config.ConfigException.class,
        () -> ConfigFactory.parseString("a { b = lots }", com.typesafe.config.ConfigParseOptions.defaults()
            .setOriginDescription("hardcoded value")).getDuration("a.b"));
    assertEquals("a.b must be a duration, like 30s, 500ms or 2m, got 'lots'", ConfigSection.describe("", e));
  }

  @Test
  void aMissingValueOrSectionIsNamedByItsFullKey() {
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        NODE, "tandem.http", c -> c.getInt("max-in-flight")));
    assertEquals("tandem.http.max-in-flight: missing", missing.getMessage());
    IllegalArgumentException noSection = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        NODE, "tandem.engine", c -> c.getDuration("connect-timeout")));
    assertEquals("tandem.engine: missing", noSection.getMessage());
  }

  @Test
  void whatReadingASectionRefusesIsAConfigurationMistake() {
    InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> ConfigSection.read(NODE, "tandem.http", c -> {
      throw new IllegalArgumentException("tandem.http.default-mode is 'fast'; it must be speculative, small or large");
    }));
    assertEquals("tandem.http.default-mode is 'fast'; it must be speculative, small or large", e.getMessage());
  }

  @Test
  void aValueOutOfItsRangeIsNamedWithTheRangeAndTheValue() {
    assertEquals(8, ConfigSection.within("tandem.http.max-in-flight", 8, 0, 100, "0: no limit"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> ConfigSection.within("tandem.http.max-in-flight", -1, 0, 100, "0: no limit"));
    assertEquals("tandem.http.max-in-flight must be from 0 to 100 (0: no limit), got -1", e.getMessage());
    IllegalArgumentException d = assertThrows(IllegalArgumentException.class,
        () -> ConfigSection.positive("tandem.http.ask-timeout", Duration.ofSeconds(-2)));
    assertEquals("tandem.http.ask-timeout must be a positive duration, got -2s", d.getMessage());
    assertEquals(Duration.ZERO, ConfigSection.notNegative("tandem.routing.load-poll-interval", Duration.ZERO, "never"));
    assertEquals("tandem.routing.load-poll-interval must be a duration from 0s up (0s: never), got -1s", assertThrows(
        InvalidConfigException.class, () -> ConfigSection.notNegative("tandem.routing.load-poll-interval", Duration.ofSeconds(-1),
            "never")).getMessage());
    // The value as a configuration writes it, not the milliseconds it made (tester43c read "got -1000 ms" for -1s).
    assertEquals("tandem.http.ask-timeout must be a positive duration, got -1500ms", assertThrows(IllegalArgumentException.class,
        () -> ConfigSection.positive("tandem.http.ask-timeout", Duration.ofMillis(-1500))).getMessage());
    assertEquals("-250us", ConfigSection.written(Duration.ofNanos(-250_000)));
    assertEquals("7ns", ConfigSection.written(Duration.ofNanos(7)));
  }
}
