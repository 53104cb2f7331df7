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
    assertEquals("tandem.http.port must be a whole number up to 2147483647, got the string \"3000000000\"",
        refusal("port", "3000000000", c -> c.getInt("port")));
    assertEquals("tandem.http.open must be true or false (on or off), got the string \"maybe\"",
        refusal("open", "maybe", c -> c.getBoolean("open")));
    assertEquals("tandem.http.served-model-names must be a list, like [a, b], got the string \"x\"",
        refusal("served-model-names", "x", c -> c.getStringList("served-model-names")));
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
    assertEquals("tandem.http.ask-timeout must be a positive duration, got -2000 ms", d.getMessage());
  }
}
