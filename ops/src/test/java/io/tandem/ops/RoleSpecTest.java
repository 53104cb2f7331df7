package io.tandem.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.tandem.inference.hf.Precision;
import org.junit.jupiter.api.Test;

class RoleSpecTest {

  private static Config role(String precision) {
    return ConfigFactory.parseString("precision = " + precision)
        .withFallback(ConfigFactory.load().getConfig("tandem.large"));
  }

  @Test
  void eachRoleReadsThePrecisionItsWeightsAreHeldIn() {
    assertEquals(Precision.FLOAT32, RoleSpec.fromConfig(ConfigFactory.load().getConfig("tandem.small")).precision());
    assertEquals(Precision.FLOAT16, RoleSpec.fromConfig(role("float16")).precision());
    assertEquals(Precision.FLOAT16, RoleSpec.fromConfig(role("float16")).withModel("other").precision(),
        "another model for the role keeps its precision");
  }

  @Test
  void anUnknownPrecisionIsRefusedNamingTheChoices() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(role("int4")));
    assertTrue(e.getMessage().contains("int4") && e.getMessage().contains("float16"), e.getMessage());
  }

  @Test
  void eachRoleReadsItsIntraOpThreadsAndRefusesANegativeCount() {
    assertEquals(0, RoleSpec.fromConfig(ConfigFactory.load().getConfig("tandem.small")).threads(), "default: one per core");
    Config one = ConfigFactory.parseString("threads = 1").withFallback(ConfigFactory.load().getConfig("tandem.large"));
    assertEquals(1, RoleSpec.fromConfig(one).threads());
    assertEquals(1, RoleSpec.fromConfig(one).withModel("other").threads());
    Config negative = ConfigFactory.parseString("threads = -2").withFallback(ConfigFactory.load().getConfig("tandem.large"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RoleSpec.fromConfig(negative));
    assertTrue(e.getMessage().contains("threads must be >= 0"), e.getMessage());
  }
}
