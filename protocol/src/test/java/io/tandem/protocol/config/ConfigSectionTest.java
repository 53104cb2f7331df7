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

  @Test
  void aValueThatCannotBeReadIsNamedByItsFullKeyWithoutItsOrigin() {
    IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        systemProperty("tandem.http.max-body-size", "lots"), "tandem.http", c -> c.getBytes("max-body-size")));
    assertEquals("tandem.http.max-body-size: No number in size-in-bytes value 'lots'", size.getMessage());
    IllegalArgumentException port = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        systemProperty("tandem.http.port", "abc"), "tandem.http", c -> c.getInt("port")));
    assertEquals("tandem.http.port has type STRING rather than NUMBER", port.getMessage());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        NODE, "tandem.http", c -> c.getInt("max-in-flight")));
    assertEquals("tandem.http.max-in-flight: missing", missing.getMessage());
    IllegalArgumentException noSection = assertThrows(IllegalArgumentException.class, () -> ConfigSection.read(
        NODE, "tandem.engine", c -> c.getDuration("connect-timeout")));
    assertEquals("tandem.engine: missing", noSection.getMessage());
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
