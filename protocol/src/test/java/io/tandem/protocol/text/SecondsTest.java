package io.tandem.protocol.text;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A duration as messages write it in seconds: whole seconds plain, a fraction of one as it is. */
class SecondsTest {
  @Test
  void aDurationIsWrittenInSecondsWithItsFractionAndWithoutTrailingZeros() {
    assertEquals("30", Seconds.of(Duration.ofSeconds(30)));
    assertEquals("0.5", Seconds.of(Duration.ofMillis(500)));
    assertEquals("1.25", Seconds.of(Duration.ofMillis(1250)));
    assertEquals("0.000001", Seconds.of(Duration.ofNanos(1000)));
    assertEquals("0", Seconds.of(Duration.ZERO));
  }
}
