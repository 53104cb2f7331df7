package io.tandem.orchestrator.http;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

class HttpSettingsTest {

  @Test
  void aNegativeShutdownDeadlineIsRefusedNamingTheKey() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HttpSettings.fromConfig(
        ConfigFactory.parseString("tandem.http.shutdown-deadline = -1s").withFallback(ConfigFactory.load())));
    assertTrue(e.getMessage().startsWith("tandem.http.shutdown-deadline and shutdown-grace must not be negative"), e.getMessage());
  }
}
